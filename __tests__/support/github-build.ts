// `image-builder` run in-process: any command with the host's output captured, and `build`
// as GitHub Actions would run it for a push to main.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LocalHost } from '../../src/host/local.js';
import type { Settings } from '../../src/config/settings.js';
import { run } from '../../src/run.js';
import type { RunDependencies } from '../../src/run.js';
import type { TempRepo } from './git-repo.js';
import { tempDir } from './git-repo.js';

export interface ReportedImage {
  status: string;
  repository: string;
  digest?: string;
  tags: string[];
  detail?: string;
  seconds?: number;
}

export interface PushOptions {
  maxParallel?: number;
  actor?: string;
  /** More settings (credentials…). */
  settings?: Partial<Settings>;
  /** More environment, over the GitHub one (PATH with fake tools…). */
  env?: Record<string, string | undefined>;
  dependencies?: RunDependencies;
}

/** What a run said, set as outputs, and threw (undefined when it succeeded). */
export interface InProcessRun {
  error: Error | undefined;
  output: string;
  outputs: Map<string, string>;
  /** The `images` output, parsed. */
  images: Record<string, ReportedImage>;
}

/** Runs a command in this process with `env` as its whole environment. */
export async function runInProcess(
  settings: Pick<Settings, 'command' | 'repoDir'> & Partial<Settings>,
  env: Record<string, string | undefined> = { PATH: process.env.PATH, HOME: process.env.HOME },
  dependencies: RunDependencies = {},
): Promise<InProcessRun> {
  const lines: string[] = [];
  const host = new LocalHost(
    (text) => lines.push(text),
    (text) => lines.push(text),
  );
  const error = await run(
    { all: false, json: false, graphFormat: 'mermaid', ...settings },
    host,
    env,
    dependencies,
  ).then(
    () => undefined,
    (caught: unknown) => caught as Error,
  );
  const images = JSON.parse(host.outputs.get('images') ?? '{}') as Record<string, ReportedImage>;
  return { error, output: lines.join(''), outputs: host.outputs, images };
}

export async function githubPushBuild(
  repo: TempRepo,
  before: string,
  after: string,
  options: PushOptions = {},
) {
  const eventPath = join(await tempDir('image-builder-event-'), 'event.json');
  await writeFile(
    eventPath,
    JSON.stringify({
      before,
      after,
      repository: { default_branch: 'main', html_url: 'https://github.com/acme/images' },
    }),
  );
  return runInProcess(
    {
      command: 'build',
      repoDir: repo.dir,
      maxParallel: options.maxParallel ?? 2,
      ...options.settings,
    },
    {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      GITHUB_ACTIONS: 'true',
      GITHUB_EVENT_NAME: 'push',
      GITHUB_EVENT_PATH: eventPath,
      GITHUB_SHA: after,
      GITHUB_REF: 'refs/heads/main',
      GITHUB_REF_NAME: 'main',
      GITHUB_REF_TYPE: 'branch',
      GITHUB_REPOSITORY: 'acme/images',
      GITHUB_SERVER_URL: 'https://github.com',
      ...(options.actor !== undefined ? { GITHUB_ACTOR: options.actor } : {}),
      ...options.env,
    },
    options.dependencies,
  );
}
