// BuildKit backend: `docker buildx build --push`, the digest read back from the file
// `--metadata-file` writes (`containerimage.digest`: the manifest, or the index for several
// platforms or with attestations). The argv is a pure function of the request and the
// settings, as in docker/actions-toolkit's src/buildx/build.ts; BuildxBuilder only runs it.
//
// Parents: the orchestrator already hands over a Dockerfile copy whose FROM lines name the
// parents by digest, so no `--build-context name=docker-image://…` is needed. The copy works
// the same for every backend (Kaniko and Buildah have no build contexts), and a named context
// would only override a FROM that names the parent exactly as written.
//
// Credentials: `DOCKER_CONFIG` points at the run's private config folder, which the buildx
// client reads to answer BuildKit's auth requests. buildx keeps its builders in
// `$DOCKER_CONFIG/buildx` unless `BUILDX_CONFIG` says otherwise, so BUILDX_CONFIG keeps
// pointing at the user's folder: the builder docker/setup-buildx-action made stays in use.

import { mkdir, readFile, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

import { UserError } from '../core/errors.js';
import { parseReference, repositoryOf } from '../core/reference.js';
import { BuildError, formatCommand } from './errors.js';
import type { Builder, BuildRequest, BuildResult, Exec } from './types.js';

const DOCKER = 'docker';
const DIGEST = /^sha256:[a-f0-9]{64}$/;

/** Where layer cache goes: nowhere, a tag in each image's repository, or GitHub's cache. */
export type BuildxCache = 'none' | 'registry' | 'gha';

export interface BuildxSettings {
  cache: BuildxCache;
  /** Tag of the registry cache in each image's own repository. */
  cacheTag: string;
  /** Value of `--provenance` (`false`, `mode=max`…); undefined leaves buildx's default. */
  provenance?: string;
  /** Value of `--sbom` (`true`, `false`…); undefined leaves buildx's default. */
  sbom?: string;
  /** Also put each label on the manifest (and the index, for several platforms) as an annotation. */
  annotations: boolean;
  /** buildx's own state folder (BUILDX_CONFIG), so that DOCKER_CONFIG can point elsewhere. */
  buildxConfig?: string;
  /** A builder instance by name (`--builder`); undefined: buildx's current one. */
  builder?: string;
}

export const DEFAULT_BUILDX_SETTINGS: Readonly<BuildxSettings> = Object.freeze({
  cache: 'none',
  cacheTag: 'buildcache',
  annotations: false,
});

type Env = Readonly<Record<string, string | undefined>>;

/** Where buildx keeps builders for this environment: `$BUILDX_CONFIG`, else `$DOCKER_CONFIG/buildx`. */
export function buildxConfigDir(env: Env): string {
  if (env.BUILDX_CONFIG) return env.BUILDX_CONFIG;
  return join(env.DOCKER_CONFIG || join(env.HOME || homedir(), '.docker'), 'buildx');
}

/** The defaults, with buildx's state folder taken from the environment the run started in. */
export function buildxSettings(env: Env, overrides: Partial<BuildxSettings> = {}): BuildxSettings {
  return { ...DEFAULT_BUILDX_SETTINGS, buildxConfig: buildxConfigDir(env), ...overrides };
}

/** Where `--metadata-file` writes. */
export function buildxMetadataFile(request: BuildRequest): string {
  return join(request.workDir, 'metadata.json');
}

/** The environment of every docker process: the run's credentials, the user's builders. */
export function buildxEnv(request: BuildRequest, settings: BuildxSettings): Record<string, string> {
  return {
    DOCKER_CONFIG: dirname(request.authFile),
    ...(settings.buildxConfig !== undefined ? { BUILDX_CONFIG: settings.buildxConfig } : {}),
  };
}

function sortedEntries(record: Readonly<Record<string, string>>): [string, string][] {
  return Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** One field of a CSV-valued flag (`--cache-to`, `--output`), quoted as encoding/csv reads it. */
function csvField(field: string): string {
  return /[",\r\n]/.test(field) ? `"${field.replace(/"/g, '""')}"` : field;
}

function csv(fields: readonly string[]): string {
  return fields.map(csvField).join(',');
}

/** `--cache-from`/`--cache-to` for the request: one cache per image, so images never evict each other. */
export function buildxCacheArgs(request: BuildRequest, settings: BuildxSettings): string[] {
  if (settings.cache === 'none') return [];
  if (settings.cache === 'gha') {
    const scope = `scope=${request.image}`;
    return [
      '--cache-from',
      csv(['type=gha', scope]),
      '--cache-to',
      csv(['type=gha', scope, 'mode=max']),
    ];
  }
  const ref = `ref=${repositoryOf(parseReference(request.pushRef))}:${settings.cacheTag}`;
  const insecure = request.insecure ? ['registry.insecure=true'] : [];
  return [
    '--cache-from',
    csv(['type=registry', ref, ...insecure]),
    '--cache-to',
    // image-manifest + OCI media types: ECR stores only image manifests, not the cache index
    // BuildKit writes by default (docs.docker.com/build/cache/backends/registry/).
    csv([
      'type=registry',
      ref,
      'mode=max',
      'image-manifest=true',
      'oci-mediatypes=true',
      ...insecure,
    ]),
  ];
}

/** `docker buildx build …` for the request (without the leading `docker`). */
export function buildxBuildArgs(request: BuildRequest, settings: BuildxSettings): string[] {
  const multi = request.platforms.length > 1;
  const args = ['buildx', 'build'];
  if (settings.builder !== undefined) args.push('--builder', settings.builder);
  args.push(
    // `--push` is `--output type=registry`; an HTTP registry needs the exporter told so.
    ...(request.insecure ? ['--output', 'type=registry,registry.insecure=true'] : ['--push']),
    '--metadata-file',
    buildxMetadataFile(request),
    '-f',
    request.dockerfile,
    '--tag',
    request.pushRef,
  );
  if (request.target !== undefined) args.push('--target', request.target);
  if (request.platforms.length > 0) args.push('--platform', request.platforms.join(','));
  for (const [name, value] of sortedEntries(request.buildArgs)) {
    args.push('--build-arg', `${name}=${value}`);
  }
  for (const [name, value] of sortedEntries(request.labels)) {
    args.push('--label', `${name}=${value}`);
  }
  if (settings.annotations) {
    // Registries show the index's annotations for a multi-platform image; a single image
    // has no index to annotate unless attestations made one, so only the manifest.
    const level = multi ? 'index,manifest:' : '';
    for (const [name, value] of sortedEntries(request.labels)) {
      args.push('--annotation', `${level}${name}=${value}`);
    }
  }
  if (settings.provenance !== undefined) args.push(`--provenance=${settings.provenance}`);
  if (settings.sbom !== undefined) args.push(`--sbom=${settings.sbom}`);
  args.push(...buildxCacheArgs(request, settings), request.contextDir);
  return args;
}

/** `docker buildx inspect --bootstrap [name]`: starts a docker-container builder that is not running. */
export function buildxInspectArgs(settings: Pick<BuildxSettings, 'builder'>): string[] {
  return [
    'buildx',
    'inspect',
    '--bootstrap',
    ...(settings.builder !== undefined ? [settings.builder] : []),
  ];
}

export interface BuildxBuilderInfo {
  name?: string;
  driver?: string;
  /** `Status:` of each node (`running`, `inactive`, `stopped`, `error`…). */
  statuses: string[];
}

/** Reads the text `docker buildx inspect` prints (the first `Name:` is the builder's). */
export function parseBuildxInspect(lines: readonly string[]): BuildxBuilderInfo {
  const info: BuildxBuilderInfo = { statuses: [] };
  for (const line of lines) {
    const match = /^\s*([A-Za-z ]+?):\s*(.*?)\s*$/.exec(line);
    if (!match) continue;
    const [, key, value] = match as unknown as [string, string, string];
    if (key === 'Name' && info.name === undefined) info.name = value;
    else if (key === 'Driver' && info.driver === undefined) info.driver = value;
    else if (key === 'Status') info.statuses.push(value);
  }
  return info;
}

const SETUP_HINT =
  'On GitHub Actions add a docker/setup-buildx-action step before image-builder; elsewhere ' +
  'install Docker with the buildx plugin, or point buildx at a BuildKit daemon ' +
  '(`docker buildx create --driver remote tcp://buildkitd:1234 --use --bootstrap`), ' +
  'or choose another builder (buildah, kaniko)';

function lastLine(lines: readonly string[]): string {
  return (
    lines
      .filter((line) => line.trim() !== '')
      .slice(-1)[0]
      ?.trim() ?? ''
  );
}

/** Builds with `docker buildx build --push`; resolves with the pushed digest. */
export class BuildxBuilder implements Builder {
  readonly name = 'buildx' as const;
  private ready?: Promise<void>;

  constructor(private readonly settings: BuildxSettings = buildxSettings(process.env)) {}

  async build(
    request: BuildRequest,
    exec: Exec,
    log: (line: string) => void,
  ): Promise<BuildResult> {
    this.ready ??= this.checkBuilder(request, exec, log);
    await this.ready;

    const metadataFile = buildxMetadataFile(request);
    await mkdir(request.workDir, { recursive: true });
    // Never read what an earlier attempt wrote.
    await rm(metadataFile, { force: true });
    const args = buildxBuildArgs(request, this.settings);
    log(`$ ${formatCommand(DOCKER, args)}`);
    const result = await exec(
      { command: DOCKER, args, env: buildxEnv(request, this.settings) },
      log,
    );
    if (result.exitCode !== 0) {
      throw new BuildError({
        image: request.image,
        action: 'building',
        command: DOCKER,
        args,
        exitCode: result.exitCode,
        tail: result.tail,
      });
    }
    const digest = await readMetadataDigest(metadataFile);
    if (!digest) {
      throw new Error(
        `building ${request.image}: buildx wrote no containerimage.digest to ${metadataFile}`,
      );
    }
    return { digest };
  }

  /** Once per run: is there a builder buildx can use? */
  private async checkBuilder(
    request: BuildRequest,
    exec: Exec,
    log: (line: string) => void,
  ): Promise<void> {
    const args = buildxInspectArgs(this.settings);
    const lines: string[] = [];
    const result = await exec(
      { command: DOCKER, args, env: buildxEnv(request, this.settings) },
      (line) => lines.push(line),
    );
    const info = parseBuildxInspect(lines);
    const command = formatCommand(DOCKER, args);
    if (result.exitCode !== 0) {
      const reason = lastLine(result.tail);
      throw new UserError(
        `no usable buildx builder: \`${command}\` failed (exit ${result.exitCode})` +
          `${reason ? `: ${reason}` : ''}. ${SETUP_HINT}.`,
      );
    }
    if (!info.statuses.includes('running')) {
      throw new UserError(
        `no usable buildx builder: \`${command}\` shows ${info.name ?? 'a builder'} ` +
          `${info.statuses.length > 0 ? `with status ${info.statuses.join(', ')}` : 'with no node'}. ` +
          `${SETUP_HINT}.`,
      );
    }
    log(`buildx builder ${info.name ?? '(default)'}, driver ${info.driver ?? 'unknown'}`);
    if (info.driver === 'docker' && this.settings.cache !== 'none') {
      // The docker driver exports cache only with the containerd image store.
      log(
        `the docker driver may refuse to export the ${this.settings.cache} cache; docker/setup-buildx-action gives a docker-container builder that can`,
      );
    }
  }
}

async function readMetadataDigest(file: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  let metadata: unknown;
  try {
    metadata = JSON.parse(text);
  } catch {
    return undefined;
  }
  const digest =
    typeof metadata === 'object' && metadata !== null
      ? (metadata as Record<string, unknown>)['containerimage.digest']
      : undefined;
  return typeof digest === 'string' && DIGEST.test(digest) ? digest : undefined;
}
