import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { detectPlatform } from './adapters/ci-env.js';
import { parseChangedFilesList } from './core/change-strategy.js';
import { UserError } from './core/errors.js';
import type { Command, Settings } from './config/settings.js';
import { COMMANDS, parseList, parseMaxParallel, promoteSettings } from './config/settings.js';
import { GitlabHost } from './host/gitlab.js';
import type { Host } from './host/host.js';
import { LocalHost } from './host/local.js';
import { run } from './run.js';

const USAGE = `usage: image-builder <command> [options]

commands:
  plan     show which images a change affects, in build order, with their tags
  build    build the affected images parents first, push them and add their tags
  graph    print the dependency graph of every image (mermaid, or --format dot)
  promote  give images' --from tag its --to tags through the registry (no layer moves)
  gitlab-pipeline  print a GitLab child pipeline: one job per affected image, needs = parents

options:
  --repo DIR             the git repository (default: the current folder)
  --config FILE          config file, relative to the repository (default: image-builder.yml)
  --registry REGISTRY    registry and namespace, over the config file's
  --since REF            local runs: changes from REF to HEAD (without it: every image)
  --changed-files FILE   take changed paths from FILE (one a line, or NUL-separated; - for stdin)
  --all                  every image, whatever changed
  --images a,b           only these images
  --json                 print the plan as JSON
  --format mermaid|dot   graph format
  --max-parallel N       builds at once (default: the number of cores)
  --from TAG --to A,B    promote: the tag to promote and the tags to give it
  --job-image IMAGE      gitlab-pipeline: the image of its jobs (default node:24)
  --job-command CMD      gitlab-pipeline: how jobs run the CLI (default npx --yes image-builder)
  -h, --help             this text

On GitHub Actions (GITHUB_ACTIONS) and GitLab CI (GITLAB_CI) the event is read from the
environment; elsewhere the repository's HEAD is planned against --since.
Registry credentials come from IMAGE_BUILDER_REGISTRY_USERNAME and
IMAGE_BUILDER_REGISTRY_PASSWORD, or the docker config (DOCKER_CONFIG), never from argv.`;

class UsageError extends UserError {}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function settingsFromArgv(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<Settings | 'help'> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        repo: { type: 'string' },
        config: { type: 'string' },
        registry: { type: 'string' },
        since: { type: 'string' },
        'changed-files': { type: 'string' },
        all: { type: 'boolean', default: false },
        images: { type: 'string' },
        json: { type: 'boolean', default: false },
        format: { type: 'string', default: 'mermaid' },
        'max-parallel': { type: 'string' },
        from: { type: 'string' },
        'job-image': { type: 'string' },
        'job-command': { type: 'string' },
        to: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n\n${USAGE}`);
  }
  const { values, positionals } = parsed;
  if (values.help) return 'help';
  const command = positionals[0];
  if (command === undefined) throw new UsageError(`no command given\n\n${USAGE}`);
  if (!(COMMANDS as readonly string[]).includes(command)) {
    throw new UsageError(`unknown command "${command}" (commands: ${COMMANDS.join(', ')})`);
  }
  if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}"`);
  if (values.format !== 'mermaid' && values.format !== 'dot') {
    throw new UsageError(`--format must be mermaid or dot, not "${values.format}"`);
  }
  const repoDir = path.resolve(values.repo ?? '.');

  let changedFiles: string[] | undefined;
  const listFile = values['changed-files'];
  if (listFile !== undefined) {
    let text: string;
    try {
      text = listFile === '-' ? await readStdin() : await readFile(path.resolve(listFile), 'utf8');
    } catch (error) {
      throw new UsageError(
        `--changed-files ${listFile}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      );
    }
    changedFiles = parseChangedFilesList(text);
  }
  const images = parseList(values.images);
  const maxParallel = values['max-parallel'];
  const username = env.IMAGE_BUILDER_REGISTRY_USERNAME;
  const password = env.IMAGE_BUILDER_REGISTRY_PASSWORD;
  return {
    command: command as Command,
    repoDir,
    ...(values.config !== undefined ? { configPath: values.config } : {}),
    ...(values.registry !== undefined ? { registry: values.registry } : {}),
    ...(images !== undefined ? { images } : {}),
    all: values.all,
    ...(values.since !== undefined ? { since: values.since } : {}),
    ...(changedFiles !== undefined ? { changedFiles } : {}),
    json: values.json,
    graphFormat: values.format,
    ...(maxParallel !== undefined
      ? { maxParallel: parseMaxParallel(maxParallel, '--max-parallel') }
      : {}),
    ...(username && password ? { registryUsername: username, registryPassword: password } : {}),
    ...promoteSettings(values.from, values.to, command, '--from', '--to'),
    ...(values['job-image'] !== undefined ? { jobImage: values['job-image'] } : {}),
    ...(values['job-command'] !== undefined ? { jobCommand: values['job-command'] } : {}),
  };
}

function hostFor(env: NodeJS.ProcessEnv): Host {
  if (detectPlatform(env) === 'gitlab') {
    return new GitlabHost(
      env.IMAGE_BUILDER_DOTENV || 'image-builder.env',
      env.IMAGE_BUILDER_REPORT || 'image-builder-report.json',
    );
  }
  // On GitHub the CLI is a plain program in a `run:` step: plain lines read best there too.
  return new LocalHost();
}

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const host = hostFor(env);
  try {
    const settings = await settingsFromArgv(argv, env);
    if (settings === 'help') {
      host.info(USAGE);
      return 0;
    }
    await run(settings, host, env);
    return 0;
  } catch (error) {
    if (error instanceof UserError) {
      host.error(error.message, error.position);
      return error instanceof UsageError ? 2 : 1;
    }
    host.error(
      env.IMAGE_BUILDER_DEBUG
        ? String((error as Error).stack)
        : String((error as Error).message ?? error),
    );
    return 1;
  }
}
