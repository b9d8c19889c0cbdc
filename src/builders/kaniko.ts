// Kaniko backend: one `executor` run builds one image for one platform and pushes it, writing
// the digest to `--digest-file`. The argv is a pure function of the request and the settings,
// as in int128/kaniko-action's src/run.ts; KanikoBuilder only runs it.
//
// Kaniko builds in its own container's root filesystem: it unpacks the base image over `/`
// and, with `--cleanup` (or the fork's KANIKO_PRE_CLEANUP / KANIKO_CLEANUP), deletes
// everything but `/kaniko`, `/busybox` and mounted volumes around a build. Hence:
// - one build at a time per container (`requiresSerialBuilds`);
// - `--cleanup` when one container builds several images, so the next starts from a clean root;
// - the run's work folder and credentials must live where Kaniko leaves them, or the push
//   loses its credentials and the digest file its folder (int128/kaniko-action#347).
//
// Credentials: Kaniko reads `$DOCKER_CONFIG/config.json` (its images set
// DOCKER_CONFIG=/kaniko/.docker); DOCKER_CONFIG points at the run's private folder instead.
// Google's repository is archived; docs/gitlab-ci.md names the maintained forks' images.

import { mkdir, readFile, rm } from 'node:fs/promises';
import { readDigestFile } from './digest-file.js';
import { dirname, join, posix } from 'node:path';

import { UserError } from '../core/errors.js';
import { parseReference, repositoryOf } from '../core/reference.js';
import { BuildError, formatCommand } from './errors.js';
import type { Builder, BuildRequest, BuildResult, Exec } from './types.js';

/** Where Kaniko's images put the executor. */
export const DEFAULT_KANIKO_EXECUTOR = '/kaniko/executor';

/** Folders Kaniko never deletes or snapshots: its own, the debug image's shell. */
const KANIKO_KEEPS = ['/kaniko', '/busybox'];

export interface KanikoSettings {
  /** Path of the executor binary. */
  executor: string;
  /** Layer cache in `<repository>/cache` (`--cache=true --cache-repo`). */
  cache: boolean;
  /** `--cleanup`: set when one container builds several images, one after another. */
  cleanup: boolean;
  /**
   * Kaniko wipes the root before each build (the fork's KANIKO_PRE_CLEANUP, preset in its
   * `-alpine` images), so files of the run must be on a path it keeps too.
   */
  preCleanup: boolean;
}

export const DEFAULT_KANIKO_SETTINGS: Readonly<KanikoSettings> = Object.freeze({
  executor: DEFAULT_KANIKO_EXECUTOR,
  cache: false,
  cleanup: false,
  preCleanup: false,
});

type Env = Readonly<Record<string, string | undefined>>;

function truthy(value: string | undefined): boolean {
  return value !== undefined && /^(1|true|yes)$/i.test(value.trim());
}

/** The defaults, with what Kaniko itself reads from the environment (KANIKO_CLEANUP, KANIKO_PRE_CLEANUP). */
export function kanikoSettings(env: Env, overrides: Partial<KanikoSettings> = {}): KanikoSettings {
  return {
    ...DEFAULT_KANIKO_SETTINGS,
    cleanup: truthy(env.KANIKO_CLEANUP),
    preCleanup: truthy(env.KANIKO_PRE_CLEANUP),
    ...overrides,
  };
}

/** Where `--digest-file` writes. */
export function kanikoDigestFile(request: BuildRequest): string {
  return join(request.workDir, 'digest');
}

function sortedEntries(record: Readonly<Record<string, string>>): [string, string][] {
  return Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The executor's arguments for the request. UserError for several platforms. */
export function kanikoArgs(request: BuildRequest, settings: KanikoSettings): string[] {
  if (request.platforms.length > 1) {
    throw new UserError(
      `image "${request.image}": Kaniko builds one platform per run, not ${request.platforms.join(', ')}; ` +
        'build it with buildx or buildah (builder: buildx), or list one platform',
    );
  }
  const args = [
    '--context',
    `dir://${request.contextDir}`,
    '--dockerfile',
    request.dockerfile,
    // Further tags are added through the registry API once the digest is known.
    '--destination',
    request.pushRef,
    '--digest-file',
    kanikoDigestFile(request),
    // Kaniko pushes itself: a 5xx or a dropped connection is tried again, with backoff
    // (since Kaniko 0.23; every maintained fork has it).
    '--push-retry',
    '3',
  ];
  if (request.target !== undefined) args.push('--target', request.target);
  const [platform] = request.platforms;
  if (platform !== undefined) args.push('--custom-platform', platform);
  for (const [name, value] of sortedEntries(request.buildArgs)) {
    args.push('--build-arg', `${name}=${value}`);
  }
  for (const [name, value] of sortedEntries(request.labels)) {
    args.push('--label', `${name}=${value}`);
  }
  if (settings.cache) {
    args.push(
      '--cache=true',
      '--cache-repo',
      `${repositoryOf(parseReference(request.pushRef))}/cache`,
    );
  }
  if (settings.cleanup) args.push('--cleanup');
  // Plain HTTP for the push and for pulling parents, and no certificate checks.
  if (request.insecure) args.push('--insecure', '--insecure-pull', '--skip-tls-verify');
  return args;
}

/** The mount points in /proc/self/mountinfo text (field 5, with its octal escapes undone). */
export function parseMountPoints(mountinfo: string): string[] {
  const points: string[] = [];
  for (const line of mountinfo.split('\n')) {
    const field = line.split(' ')[4];
    if (field) {
      points.push(
        field.replace(/\\([0-7]{3})/g, (_, octal: string) =>
          String.fromCharCode(parseInt(octal, 8)),
        ),
      );
    }
  }
  return points;
}

function isInside(path: string, folder: string): boolean {
  const relative = posix.relative(folder, path);
  return relative !== '..' && !relative.startsWith('../') && !posix.isAbsolute(relative);
}

/**
 * Whether Kaniko leaves `path` alone when it cleans the filesystem: inside its own folders
 * or on a mounted volume (a mount at `/` is the container root itself, which it cleans).
 */
export function kanikoKeeps(path: string, mountPoints: readonly string[]): boolean {
  return [...KANIKO_KEEPS, ...mountPoints.filter((point) => point !== '/')].some((folder) =>
    isInside(posix.normalize(path), folder),
  );
}

export interface KanikoBuilderOptions {
  /** Mount points of this container; undefined when they cannot be read (not Linux). */
  mountPoints?: () => Promise<string[] | undefined>;
}

async function readMountPoints(): Promise<string[] | undefined> {
  try {
    return parseMountPoints(await readFile('/proc/self/mountinfo', 'utf8'));
  } catch {
    return undefined;
  }
}

/** Builds and pushes with the Kaniko executor; resolves with the pushed digest. */
export class KanikoBuilder implements Builder {
  readonly name = 'kaniko' as const;
  /** One Kaniko container builds one image at a time: the caller runs builds one after another. */
  readonly requiresSerialBuilds = true;
  private readonly mountPoints: () => Promise<string[] | undefined>;

  constructor(
    private readonly settings: KanikoSettings = kanikoSettings(process.env),
    options: KanikoBuilderOptions = {},
  ) {
    this.mountPoints = options.mountPoints ?? readMountPoints;
  }

  async build(
    request: BuildRequest,
    exec: Exec,
    log: (line: string) => void,
  ): Promise<BuildResult> {
    const args = kanikoArgs(request, this.settings);
    await this.checkPaths(request);
    const digestFile = kanikoDigestFile(request);
    await mkdir(request.workDir, { recursive: true });
    // Never read a digest written by an earlier attempt.
    await rm(digestFile, { force: true });

    const command = this.settings.executor;
    log(`$ ${formatCommand(command, args)}`);
    const result = await exec(
      { command, args, env: { DOCKER_CONFIG: dirname(request.authFile) } },
      log,
    );
    if (result.exitCode !== 0) {
      throw new BuildError({
        image: request.image,
        action: 'building',
        destination: request.pushRef,
        command,
        args,
        exitCode: result.exitCode,
        tail: result.tail,
      });
    }
    const digest = await readDigestFile(digestFile);
    if (!digest) {
      throw new Error(
        `building ${request.image}: Kaniko wrote no sha256 digest to ${digestFile}` +
          (this.cleans()
            ? ' (when Kaniko cleans the filesystem, TMPDIR must be under /kaniko or on a mounted volume)'
            : ''),
      );
    }
    return { digest };
  }

  private cleans(): boolean {
    return this.settings.cleanup || this.settings.preCleanup;
  }

  /** A clear error now instead of an UNAUTHORIZED push or a lost digest after the build. */
  private async checkPaths(request: BuildRequest): Promise<void> {
    if (!this.cleans()) return;
    const mountPoints = await this.mountPoints();
    if (mountPoints === undefined) return;
    const lost = [request.workDir, request.authFile].filter(
      (path) => !kanikoKeeps(path, mountPoints),
    );
    if (lost.length > 0) {
      throw new UserError(
        `Kaniko cleans this container's filesystem around each build and would delete ${lost.join(' and ')}; ` +
          'set TMPDIR to a folder on a mounted volume (GitLab: under $CI_BUILDS_DIR) or under /kaniko',
      );
    }
  }
}
