// `builder: auto`: the backend this machine can run, looked for in a fixed order. Inside a
// Kaniko container only Kaniko can build (there is no daemon and no user namespace to use),
// so it comes first; then BuildKit through `docker buildx` (a running builder, which
// docker/setup-buildx-action provides); then Buildah. Buildpacks images are always pack's.
// The caller logs the choice and its reason.

import type { BuilderName } from '../core/types.js';
import { UserError } from '../core/errors.js';
import { formatCommand } from './errors.js';
import { parseBuildxInspect } from './buildx.js';
import { DEFAULT_KANIKO_EXECUTOR } from './kaniko.js';
import type { Exec } from './types.js';

export interface BuilderChoice {
  name: Exclude<BuilderName, 'auto'>;
  /** Why, for the log: what was found (and what was not, before it). */
  reason: string;
}

export interface ChooseBuilderOptions {
  /** Environment of the probing processes (PATH finds the tools). */
  env: Readonly<Record<string, string | undefined>>;
  exec: Exec;
  fileExists: (path: string) => Promise<boolean>;
  /** The image's kind; buildpacks images skip the probing. */
  kind?: 'dockerfile' | 'buildpacks';
  /** Where a Kaniko image has its executor. */
  kanikoExecutor?: string;
}

interface Probe {
  ok: boolean;
  /** The first or last meaningful output line, for messages. */
  detail: string;
  lines: string[];
}

function definedEnv(env: ChooseBuilderOptions['env']): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) if (value !== undefined) result[key] = value;
  return result;
}

async function probe(
  options: ChooseBuilderOptions,
  command: string,
  args: string[],
): Promise<Probe> {
  const lines: string[] = [];
  const result = await options.exec({ command, args, env: definedEnv(options.env) }, (line) =>
    lines.push(line),
  );
  const meaningful = lines.filter((line) => line.trim() !== '');
  const detail =
    (result.exitCode === 0 ? meaningful[0] : meaningful[meaningful.length - 1])?.trim() ??
    `exit ${result.exitCode}`;
  return { ok: result.exitCode === 0, detail, lines };
}

/**
 * Picks the backend for an image whose builder is `auto`. Throws UserError listing what was
 * looked for, and how to get each, when none is usable.
 */
export async function chooseBuilder(options: ChooseBuilderOptions): Promise<BuilderChoice> {
  if (options.kind === 'buildpacks') {
    return { name: 'pack', reason: 'a buildpacks image (project.toml) is built with pack' };
  }

  const executor = options.kanikoExecutor ?? DEFAULT_KANIKO_EXECUTOR;
  if (await options.fileExists(executor)) {
    return { name: 'kaniko', reason: `inside a Kaniko container (${executor} exists)` };
  }
  const missed = [`Kaniko: ${executor} does not exist (not in a Kaniko container)`];

  const versionArgs = ['buildx', 'version'];
  const version = await probe(options, 'docker', versionArgs);
  if (version.ok) {
    const inspectArgs = ['buildx', 'inspect'];
    const inspect = await probe(options, 'docker', inspectArgs);
    const info = parseBuildxInspect(inspect.lines);
    if (inspect.ok && info.statuses.includes('running')) {
      return {
        name: 'buildx',
        reason: `${missed.join('; ')}; \`docker buildx inspect\` shows builder ${info.name ?? '(default)'} running (${version.detail})`,
      };
    }
    missed.push(
      inspect.ok
        ? `BuildKit: \`docker buildx inspect\` shows builder ${info.name ?? '(default)'} ${info.statuses.length > 0 ? info.statuses.join(', ') : 'without nodes'}, not running`
        : `BuildKit: \`docker buildx inspect\` failed: ${inspect.detail}`,
    );
  } else {
    missed.push(`BuildKit: \`${formatCommand('docker', versionArgs)}\` failed: ${version.detail}`);
  }

  const buildah = await probe(options, 'buildah', ['--version']);
  if (buildah.ok) {
    return { name: 'buildah', reason: `${missed.join('; ')}; found ${buildah.detail}` };
  }
  missed.push(`Buildah: \`buildah --version\` failed: ${buildah.detail}`);

  throw new UserError(
    [
      'no image builder found (builder: auto). Looked for:',
      ...missed.map((line) => `  - ${line}`),
      'To get one:',
      '  - Kaniko: run the job in a Kaniko image with Node.js added (see docs/gitlab-ci.md)',
      '  - BuildKit: on GitHub Actions add a docker/setup-buildx-action step before image-builder; ' +
        'elsewhere Docker with the buildx plugin, or `docker buildx create --driver remote <buildkitd address> --use --bootstrap`',
      '  - Buildah: install it (Debian/Ubuntu: apt-get install buildah; or the quay.io/buildah/stable image)',
      'or name the builder in image-builder.yml (builder: buildx | buildah | kaniko).',
    ].join('\n'),
  );
}
