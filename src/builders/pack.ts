// Cloud Native Buildpacks backend: `pack build <ref> --publish` for images found by
// project.toml (or configured `builder: pack`). The builder image and the lifecycle are
// pinned from the settings, as seed 003 pins PAKETO_BUILDER_VERSION and LIFECYCLE_VERSION.
// The argv is a pure function of the request and the settings; PackBuilder only runs it.
//
// pack has no `--label`: Paketo's image-labels buildpack (in the Paketo builders) sets the
// OCI labels from `BP_OCI_*` and any other label from `BP_IMAGE_LABELS`, so labels travel
// as build-time environment. Build-args of a buildpacks image are its build-time environment
// too (`--env`), the closest thing buildpacks have to them.
//
// Credentials: pack reads `$DOCKER_CONFIG/config.json` and hands the registry credentials to
// the lifecycle; DOCKER_CONFIG points at the run's private folder.

import { dirname } from 'node:path';

import { UserError } from '../core/errors.js';
import { parseReference, repositoryOf } from '../core/reference.js';
import { BuildError, formatCommand } from './errors.js';
import type { Builder, BuildRequest, BuildResult, Exec } from './types.js';

const PACK = 'pack';
const DIGEST = /^sha256:[a-f0-9]{64}$/;
/** The lifecycle's exporter prints it for a published image, after a phase prefix such as `[creator] `. */
const DIGEST_LINE = /\*\*\* Digest: (sha256:[a-f0-9]{64})/;

export const DEFAULT_PACK_BUILDER = 'paketobuildpacks/builder-jammy-base';
/** The lifecycle images the Buildpacks project publishes, tagged by version. */
export const LIFECYCLE_REPOSITORY = 'buildpacksio/lifecycle';

export interface PackSettings {
  /** Builder image (`--builder`); pin it by version tag or digest. */
  builder: string;
  /** Lifecycle version (`0.16.0`), for `buildpacksio/lifecycle:<version>`. */
  lifecycleVersion?: string;
  /** Lifecycle image; wins over lifecycleVersion. */
  lifecycleImage?: string;
  /** Build-time environment of every buildpacks image; an image's build-args win. */
  env: Readonly<Record<string, string>>;
  /** Cache image `<repository>:<cacheTag>` in each image's repository (`--cache-image`). */
  cache: boolean;
  cacheTag: string;
  /** Network of the build containers (`--network host` reaches a registry on the host's localhost). */
  network?: string;
  /**
   * Asks the registry for the digest of a pushed reference, for when pack printed none. The
   * caller passes its registry client here; without it such a build fails.
   */
  resolveDigest?: (ref: string) => Promise<string>;
}

export const DEFAULT_PACK_SETTINGS: Readonly<PackSettings> = Object.freeze({
  builder: DEFAULT_PACK_BUILDER,
  env: Object.freeze({}),
  cache: false,
  cacheTag: 'buildcache',
});

/** The lifecycle image to pin, if any: the image itself, or the project's image of the version. */
export function packLifecycleImage(settings: PackSettings): string | undefined {
  if (settings.lifecycleImage) return settings.lifecycleImage;
  if (settings.lifecycleVersion) {
    return `${LIFECYCLE_REPOSITORY}:${settings.lifecycleVersion.replace(/^v/, '')}`;
  }
  return undefined;
}

/** OCI label → the variable Paketo's image-labels buildpack reads it from. */
const OCI_LABEL_VARIABLES: Readonly<Record<string, string>> = Object.freeze({
  'org.opencontainers.image.authors': 'BP_OCI_AUTHORS',
  'org.opencontainers.image.created': 'BP_OCI_CREATED',
  'org.opencontainers.image.description': 'BP_OCI_DESCRIPTION',
  'org.opencontainers.image.documentation': 'BP_OCI_DOCUMENTATION',
  'org.opencontainers.image.licenses': 'BP_OCI_LICENSES',
  'org.opencontainers.image.ref.name': 'BP_OCI_REF_NAME',
  'org.opencontainers.image.revision': 'BP_OCI_REVISION',
  'org.opencontainers.image.source': 'BP_OCI_SOURCE',
  'org.opencontainers.image.title': 'BP_OCI_TITLE',
  'org.opencontainers.image.url': 'BP_OCI_URL',
  'org.opencontainers.image.vendor': 'BP_OCI_VENDOR',
  'org.opencontainers.image.version': 'BP_OCI_VERSION',
});

function sortedEntries(record: Readonly<Record<string, string>>): [string, string][] {
  return Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** One word of BP_IMAGE_LABELS, which the buildpack splits like a shell (go-shellwords). */
function shellWord(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The labels as the build-time environment Paketo's image-labels buildpack reads. */
export function packLabelEnv(labels: Readonly<Record<string, string>>): Record<string, string> {
  const env: Record<string, string> = {};
  const others: string[] = [];
  for (const [name, value] of sortedEntries(labels)) {
    const variable = OCI_LABEL_VARIABLES[name];
    if (variable !== undefined) env[variable] = value;
    else others.push(shellWord(`${name}=${value}`));
  }
  if (others.length > 0) env.BP_IMAGE_LABELS = others.join(' ');
  return env;
}

/** `pack build …` for the request (without the leading `pack`). UserError for several platforms. */
export function packBuildArgs(request: BuildRequest, settings: PackSettings): string[] {
  if (request.platforms.length > 1) {
    throw new UserError(
      `image "${request.image}": pack builds one platform per run, not ${request.platforms.join(', ')}; list one platform`,
    );
  }
  const args = [
    'build',
    request.pushRef,
    '--builder',
    settings.builder,
    '--path',
    request.contextDir,
    '--publish',
  ];
  const lifecycle = packLifecycleImage(settings);
  if (lifecycle !== undefined) args.push('--lifecycle-image', lifecycle);
  const env = { ...packLabelEnv(request.labels), ...settings.env, ...request.buildArgs };
  for (const [name, value] of sortedEntries(env)) args.push('--env', `${name}=${value}`);
  const [platform] = request.platforms;
  if (platform !== undefined) args.push('--platform', platform);
  const reference = parseReference(request.pushRef);
  if (settings.cache) {
    args.push('--cache-image', `${repositoryOf(reference)}:${settings.cacheTag}`);
  }
  if (settings.network !== undefined) args.push('--network', settings.network);
  if (request.insecure) args.push('--insecure-registry', reference.registry);
  return args;
}

/** The digest the lifecycle printed for the published image (the last one, if several). */
export function packDigestFromOutput(lines: readonly string[]): string | undefined {
  let digest: string | undefined;
  for (const line of lines) {
    const match = DIGEST_LINE.exec(line);
    if (match) digest = match[1];
  }
  return digest;
}

/** Builds with `pack build --publish`; resolves with the pushed digest. */
export class PackBuilder implements Builder {
  readonly name = 'pack' as const;

  constructor(private readonly settings: PackSettings = DEFAULT_PACK_SETTINGS) {}

  async build(
    request: BuildRequest,
    exec: Exec,
    log: (line: string) => void,
  ): Promise<BuildResult> {
    const args = packBuildArgs(request, this.settings);
    log(`$ ${formatCommand(PACK, args)}`);
    const lines: string[] = [];
    const result = await exec(
      { command: PACK, args, env: { DOCKER_CONFIG: dirname(request.authFile) } },
      (line) => {
        lines.push(line);
        log(line);
      },
    );
    if (result.exitCode !== 0) {
      throw new BuildError({
        image: request.image,
        action: 'building',
        destination: request.pushRef,
        command: PACK,
        args,
        exitCode: result.exitCode,
        tail: result.tail,
      });
    }
    const printed = packDigestFromOutput(lines);
    if (printed) return { digest: printed };
    if (!this.settings.resolveDigest) {
      throw new Error(
        `building ${request.image}: pack printed no "*** Digest:" line for ${request.pushRef}`,
      );
    }
    const digest = await this.settings.resolveDigest(request.pushRef);
    if (!DIGEST.test(digest)) {
      throw new Error(
        `building ${request.image}: the registry answered no digest for ${request.pushRef}`,
      );
    }
    log(`pack printed no digest; the registry has ${request.pushRef} at ${digest}`);
    return { digest };
  }
}
