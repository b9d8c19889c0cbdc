// Buildah backend: builds with `buildah build` (no daemon, works as root in CI containers
// with the vfs driver and chroot isolation) and pushes with `buildah push`, or builds a
// manifest list and pushes it with `buildah manifest push --all` for several platforms.
// The argv of every step is a pure function of the request; BuildahBuilder only runs them.
// Flags are those of Buildah 1.28 (Debian 12), the oldest version we support.

import { createHash } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { readDigestFile } from './digest-file.js';
import { join } from 'node:path';

import { ConfigError } from '../core/errors.js';
import { BuildError, formatCommand } from './errors.js';
import type { Builder, BuildRequest, BuildResult, Exec } from './types.js';

const BUILDAH = 'buildah';
const ISOLATIONS = ['chroot', 'oci', 'rootless'] as const;
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

/** Where `buildah push` writes the digest of what it pushed. */
export function buildahDigestFile(request: BuildRequest): string {
  return join(request.workDir, 'digest');
}

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

/** `buildah push …` (one image) or `buildah manifest push --all …` (a manifest list). */
export function buildahPushArgs(
  request: BuildRequest,
  settings: BuildahSettings,
  localName: string,
  digestFile: string,
): string[] {
  const command = isMultiPlatform(request)
    ? // A list built from Docker-format images is still pushed as an OCI index unless told
      // otherwise; v2s2 keeps the list and its manifests of one kind.
      ['manifest', 'push', '--all', '--format', 'v2s2']
    : ['push'];
  return [
    '--storage-driver',
    settings.storageDriver,
    ...command,
    ...registryFlags(request),
    '--digestfile',
    digestFile,
    localName,
    `docker://${request.pushRef}`,
  ];
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

  constructor(private readonly settings: BuildahSettings = buildahSettings(process.env)) {}

  async build(
    request: BuildRequest,
    exec: Exec,
    log: (line: string) => void,
  ): Promise<BuildResult> {
    const localName = buildahLocalName(request);
    const digestFile = buildahDigestFile(request);
    await mkdir(request.workDir, { recursive: true });
    // A list left by an earlier attempt in this work folder would be added to, not replaced.
    if (isMultiPlatform(request)) {
      const [removeList] = buildahRemoveArgs(request, this.settings, localName);
      if (removeList) await exec({ command: BUILDAH, args: removeList }, () => undefined);
    }

    const imageIds: string[] = [];
    const buildArgs = buildahBuildArgs(request, this.settings);
    await this.run(request, 'building', buildArgs, exec, log, (line) => {
      if (IMAGE_ID.test(line)) imageIds.push(line);
    });

    // Never read a digest written by an earlier attempt.
    await rm(digestFile, { force: true });
    const pushArgs = buildahPushArgs(request, this.settings, localName, digestFile);
    await this.run(request, 'pushing', pushArgs, exec, log);
    const digest = await readDigestFile(digestFile);
    if (!digest) {
      throw new Error(
        `pushing ${request.image} to ${request.pushRef}: buildah wrote no sha256 digest to ${digestFile}`,
      );
    }

    for (const args of buildahRemoveArgs(request, this.settings, localName, imageIds)) {
      // Best effort: vfs keeps a full copy of every layer, so a long run must not keep
      // every image it pushed, but a leftover is no reason to fail a pushed build.
      const result = await exec({ command: BUILDAH, args }, () => undefined);
      if (result.exitCode !== 0) {
        const reason = result.tail.filter((line) => line.trim() !== '').slice(-1)[0] ?? '';
        log(`could not remove ${localName} from local storage (exit ${result.exitCode}) ${reason}`);
      }
    }
    return { digest };
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
    const result = await exec({ command: BUILDAH, args }, (line) => {
      watch?.(line);
      log(line);
    });
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
