// Buildah backend: builds with `buildah build` (no daemon, works as root in CI containers
// with the vfs driver and chroot isolation), writes the image (or, for several platforms,
// the manifest list with `manifest push --all`) to a local `dir:` folder and has our
// registry client push that: Buildah 1.28 gives up on the first 5xx or 429 of a push, our
// client retries each request. The argv of every step is a pure function of the request;
// BuildahBuilder only runs them.
// Flags are those of Buildah 1.28 (Debian 12), the oldest version we support.

import { createHash } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

import { ConfigError } from '../core/errors.js';
import { BuildError, formatCommand } from './errors.js';
import type { Builder, BuildRequest, BuildResult, Exec } from './types.js';

const BUILDAH = 'buildah';
const ISOLATIONS = ['chroot', 'oci', 'rootless'] as const;
// Builds side by side share local storage: one removing its image while another looks
// through the layer cache makes the other fail with "layer not known". Nothing is wrong
// with the build, so it runs again (and finds the storage settled).
const STORAGE_RACE = /\b(layer|image) not known\b/;
const STORAGE_RACE_RETRIES = 2;

function isStorageRace(result: { exitCode: number; tail: readonly string[] }): boolean {
  return result.exitCode !== 0 && result.tail.some((line) => STORAGE_RACE.test(line));
}

/** Buildah prints the ID of each image it commits on a line of its own at the end. */
const IMAGE_ID = /^[a-f0-9]{64}$/;

export interface BuildahSettings {
  /** `vfs` works everywhere (no overlay mounts in unprivileged CI containers); `overlay` is faster. */
  storageDriver: string;
  isolation: (typeof ISOLATIONS)[number];
}

/**
 * Settings from the environment, under the names Buildah itself reads (`STORAGE_DRIVER`,
 * `BUILDAH_ISOLATION`), so a runner configured for Buildah is configured for us too.
 */
export function buildahSettings(
  env: Readonly<Record<string, string | undefined>>,
): BuildahSettings {
  const storageDriver = env.STORAGE_DRIVER?.trim() || 'vfs';
  const isolation = env.BUILDAH_ISOLATION?.trim() || 'chroot';
  if (!(ISOLATIONS as readonly string[]).includes(isolation)) {
    throw new ConfigError(
      `BUILDAH_ISOLATION must be one of ${ISOLATIONS.join(', ')}, not "${isolation}"`,
    );
  }
  if (!/^[a-z0-9_]+$/.test(storageDriver)) {
    throw new ConfigError(
      `STORAGE_DRIVER must be a storage driver name such as vfs or overlay, not "${storageDriver}"`,
    );
  }
  return { storageDriver, isolation: isolation as BuildahSettings['isolation'] };
}

/**
 * The name the image (or manifest list) gets in local storage until it is pushed. Unique
 * per work folder, so that variants of one image built at the same time do not share it.
 */
export function buildahLocalName(request: BuildRequest): string {
  const name = request.image
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
  const id = createHash('sha256').update(request.workDir).digest('hex').slice(0, 12);
  return `localhost/image-builder/${name || 'image'}:${id}`;
}

/** Where the image is written in `dir:` format before it is pushed. */
export function buildahImageDir(request: BuildRequest): string {
  return join(request.workDir, 'image');
}

/** Pushes an image written in `dir:` format to a reference; resolves with its digest. */
export type PushDirectory = (
  dir: string,
  reference: string,
  log: (line: string) => void,
) => Promise<string>;

function isMultiPlatform(request: BuildRequest): boolean {
  return request.platforms.length > 1;
}

function sortedEntries(record: Readonly<Record<string, string>>): [string, string][] {
  return Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function registryFlags(request: BuildRequest): string[] {
  // Secrets stay in the auth file; only its path is on the command line.
  return ['--authfile', request.authFile, ...(request.insecure ? ['--tls-verify=false'] : [])];
}

/** `buildah build …` for the request. */
export function buildahBuildArgs(request: BuildRequest, settings: BuildahSettings): string[] {
  const localName = buildahLocalName(request);
  const multi = isMultiPlatform(request);
  const args = [
    '--storage-driver',
    settings.storageDriver,
    'build',
    '--isolation',
    settings.isolation,
    // Docker's image format: OCI drops HEALTHCHECK, SHELL and ONBUILD (with a warning only).
    '--format',
    'docker',
    // Buildah 1.28 reads any value but true/always/never as "missing"; newer versions know it
    // by name. Parents are pinned by digest, so a local copy is always the right one.
    '--pull=missing',
    // Buildah < 1.41 takes cached layers without checking their platform, so with a `FROM
    // scratch` stage every platform gets the first platform's image and the list ends up
    // with one entry (containers/podman#18723, fixed by containers/buildah#6269).
    multi ? '--layers=false' : '--layers',
    // A failed RUN otherwise leaves its working container behind, holding its image (and
    // disk) until someone removes it by hand.
    '--force-rm',
    '-f',
    request.dockerfile,
    ...(multi ? ['--manifest', localName] : ['-t', localName]),
  ];
  for (const [name, value] of sortedEntries(request.buildArgs)) {
    args.push('--build-arg', `${name}=${value}`);
  }
  for (const [name, value] of sortedEntries(request.labels)) {
    args.push('--label', `${name}=${value}`);
  }
  if (request.target !== undefined) args.push('--target', request.target);
  if (request.platforms.length > 0) args.push('--platform', request.platforms.join(','));
  args.push(...registryFlags(request), request.contextDir);
  return args;
}

/**
 * `buildah push … dir:` (one image) or `buildah manifest push --all … dir:` (a manifest
 * list): the image as it will be pushed, in a local folder.
 */
export function buildahPushArgs(
  request: BuildRequest,
  settings: BuildahSettings,
  localName: string,
  imageDir: string,
): string[] {
  const command = isMultiPlatform(request) ? ['manifest', 'push', '--all'] : ['push'];
  return [
    '--storage-driver',
    settings.storageDriver,
    ...command,
    // Docker's formats throughout: a list built from Docker-format images is otherwise
    // written as an OCI index.
    '--format',
    'v2s2',
    localName,
    `dir:${imageDir}`,
  ];
}

/**
 * `buildah pull dir:…` of what was pushed: the local image then also answers to its pushed
 * digest, so a child's pinned `FROM repo@sha256:…` is found in local storage, not pulled.
 */
export function buildahKeepArgs(settings: BuildahSettings, imageDir: string): string[] {
  return ['--storage-driver', settings.storageDriver, 'pull', '--quiet', `dir:${imageDir}`];
}

/**
 * Removes what a build left in local storage once it is pushed: the tagged image, or the
 * manifest list and its per-platform images (which have no name, so their IDs are needed).
 */
export function buildahRemoveArgs(
  request: BuildRequest,
  settings: BuildahSettings,
  localName: string,
  imageIds: readonly string[] = [],
): string[][] {
  const storage = ['--storage-driver', settings.storageDriver];
  if (!isMultiPlatform(request)) return [[...storage, 'rmi', localName]];
  const commands = [[...storage, 'manifest', 'rm', localName]];
  if (imageIds.length > 0) commands.push([...storage, 'rmi', ...imageIds]);
  return commands;
}

/** Builds with Buildah and pushes to `request.pushRef`; resolves with the pushed digest. */
export class BuildahBuilder implements Builder {
  readonly name = 'buildah' as const;
  /** Local names kept for children (`keepLocal`), removed by `finish`. */
  private readonly kept: string[] = [];

  constructor(
    private readonly settings: BuildahSettings,
    private readonly pushDirectory: PushDirectory,
  ) {}

  async build(
    request: BuildRequest,
    exec: Exec,
    log: (line: string) => void,
  ): Promise<BuildResult> {
    const localName = buildahLocalName(request);
    const imageDir = buildahImageDir(request);
    const multi = isMultiPlatform(request);
    await mkdir(request.workDir, { recursive: true });
    // A list left by an earlier attempt in this work folder would be added to, not replaced.
    if (multi) {
      const [removeList] = buildahRemoveArgs(request, this.settings, localName);
      if (removeList) await exec({ command: BUILDAH, args: removeList }, () => undefined);
    }

    const imageIds: string[] = [];
    const buildArgs = buildahBuildArgs(request, this.settings);
    await this.run(request, 'building', buildArgs, exec, log, (line) => {
      if (IMAGE_ID.test(line)) imageIds.push(line);
    });

    // `dir:` refuses to write over an earlier attempt's image.
    await rm(imageDir, { recursive: true, force: true });
    try {
      await this.run(
        request,
        'pushing',
        buildahPushArgs(request, this.settings, localName, imageDir),
        exec,
        log,
      );
      const digest = await this.pushDirectory(imageDir, request.pushRef, log);
      // A list's images are pulled back one by one by platform; only single images stay.
      const keep = request.keepLocal === true && !multi;
      if (keep) {
        const pulled = await exec(
          { command: BUILDAH, args: buildahKeepArgs(this.settings, imageDir) },
          () => undefined,
        );
        if (pulled.exitCode === 0) this.kept.push(localName);
        else log(`could not keep ${request.image} in local storage: children will pull it`);
      }
      if (!this.kept.includes(localName)) {
        await this.remove(request, localName, imageIds, exec, log);
      }
      return { digest };
    } finally {
      await rm(imageDir, { recursive: true, force: true });
    }
  }

  async finish(exec: Exec, log: (line: string) => void): Promise<void> {
    const storage = ['--storage-driver', this.settings.storageDriver];
    for (const localName of this.kept.splice(0)) {
      const result = await exec(
        { command: BUILDAH, args: [...storage, 'rmi', localName] },
        () => undefined,
      );
      if (result.exitCode !== 0) log(`could not remove ${localName} from local storage`);
    }
  }

  private async remove(
    request: BuildRequest,
    localName: string,
    imageIds: readonly string[],
    exec: Exec,
    log: (line: string) => void,
  ): Promise<void> {
    for (const args of buildahRemoveArgs(request, this.settings, localName, imageIds)) {
      // Best effort: vfs keeps a full copy of every layer, so a long run must not keep
      // every image it pushed, but a leftover is no reason to fail a pushed build.
      const result = await exec({ command: BUILDAH, args }, () => undefined);
      if (result.exitCode !== 0) {
        const reason = result.tail.filter((line) => line.trim() !== '').slice(-1)[0] ?? '';
        log(`could not remove ${localName} from local storage (exit ${result.exitCode}) ${reason}`);
      }
    }
  }

  private async run(
    request: BuildRequest,
    action: 'building' | 'pushing',
    args: string[],
    exec: Exec,
    log: (line: string) => void,
    watch?: (line: string) => void,
  ): Promise<void> {
    log(`$ ${formatCommand(BUILDAH, args)}`);
    let result = await exec({ command: BUILDAH, args }, (line) => {
      watch?.(line);
      log(line);
    });
    for (let retry = 1; retry <= STORAGE_RACE_RETRIES && isStorageRace(result); retry++) {
      log(`local storage changed under the build (another image was removed): building again`);
      result = await exec({ command: BUILDAH, args }, (line) => {
        watch?.(line);
        log(line);
      });
    }
    if (result.exitCode !== 0) {
      throw new BuildError({
        image: request.image,
        action,
        ...(action === 'pushing' ? { destination: request.pushRef } : {}),
        command: BUILDAH,
        args,
        exitCode: result.exitCode,
        tail: result.tail,
      });
    }
  }
}
