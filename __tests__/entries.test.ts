// The bundled entries run as users run them: `node dist/cli/index.js` and the action's
// `node dist/index.js` with the environment GitHub and GitLab give a step.
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { COMMANDS } from '../src/config/settings.js';
import type { Plan } from '../src/core/plan.js';
import type { TempRepo } from './support/git-repo.js';
import { cleanupRepos, makeRepo, tempDir } from './support/git-repo.js';

const CLI = resolve('dist/cli/index.js');
const ACTION = resolve('dist/index.js');

afterAll(cleanupRepos);

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** A clean environment: nothing of the machine's own CI variables leaks into a case. */
function baseEnv(extra: Record<string, string>): Record<string, string> {
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...extra };
}

function runNode(
  script: string,
  args: string[],
  cwd: string,
  env: Record<string, string>,
): Promise<Ran> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [script, ...args],
      { cwd, env: baseEnv(env) },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        done({ code, stdout, stderr });
      },
    );
  });
}

async function exampleRepo(): Promise<{ repo: TempRepo; first: string; second: string }> {
  const repo = await makeRepo();
  const first = await repo.commit('initial', {
    'images/base/Dockerfile': 'FROM scratch\nCOPY . /\n',
    'images/app/Dockerfile': 'FROM base\n',
    'images/web/Dockerfile': 'FROM scratch\nCOPY . /srv/\n',
  });
  const second = await repo.commit('change base', { 'images/base/file': 'x' });
  return { repo, first, second };
}

describe('CLI', () => {
  test('plan --json prints the plan of a local change', async () => {
    const { repo, first, second } = await exampleRepo();
    const ran = await runNode(CLI, ['plan', '--json', '--since', first], repo.dir, {});
    expect(ran.code).toBe(0);
    const plan = JSON.parse(ran.stdout) as Plan;
    expect(plan.event.sha).toBe(second);
    expect(plan.images.map((image) => [image.name, image.reasons])).toEqual([
      ['base', ['changed images/base/file']],
      ['app', ['parent base is rebuilt']],
    ]);
  });

  test('plan prints a readable tree; --repo points at the repository', async () => {
    const { repo, first } = await exampleRepo();
    const ran = await runNode(
      CLI,
      ['plan', '--repo', repo.dir, '--since', first],
      await tempDir(),
      {},
    );
    expect(ran.code).toBe(0);
    expect(ran.stdout).toContain('2 of 3 images to build, in order:');
    expect(ran.stdout).toMatch(
      /\n {4}app {2}app:\{[0-9a-f]{40},main\}\n {8}- parent base is rebuilt/,
    );
    expect(ran.stdout).toContain('unchanged: web');
  });

  test('--changed-files - reads NUL-separated paths from stdin', async () => {
    const { repo } = await exampleRepo();
    const ran = await new Promise<Ran>((done) => {
      const child = execFile(
        process.execPath,
        [CLI, 'plan', '--json', '--changed-files', '-'],
        { cwd: repo.dir, env: baseEnv({}) },
        (error, stdout, stderr) => done({ code: error ? 1 : 0, stdout, stderr }),
      );
      child.stdin?.end('images/web/index.html\0');
    });
    expect(ran.code).toBe(0);
    expect((JSON.parse(ran.stdout) as Plan).images.map((image) => image.name)).toEqual(['web']);
  });

  test('gitlab-pipeline prints a child pipeline whose needs mirror the graph', async () => {
    const { repo, first } = await exampleRepo();
    const ran = await runNode(
      CLI,
      ['gitlab-pipeline', '--since', first, '--job-image', 'node:24'],
      repo.dir,
      {},
    );
    expect(ran.code).toBe(0);
    const pipeline = parse(ran.stdout) as Record<
      string,
      { needs?: string[]; script?: string[]; image?: string }
    >;
    const jobs = Object.entries(pipeline).filter(
      ([, job]) => job && typeof job === 'object' && 'script' in job,
    );
    expect(jobs.map(([name, job]) => [name, job.needs])).toEqual([
      ['build:base', []],
      ['build:app', ['build:base']],
    ]);
    expect(jobs[1]?.[1].script?.[0]).toMatch(/build --images app$/);
  });

  test('graph prints mermaid, or dot', async () => {
    const { repo } = await exampleRepo();
    const mermaid = await runNode(CLI, ['graph'], repo.dir, {});
    expect(mermaid.stdout).toMatch(/^flowchart LR\n/);
    const dot = await runNode(CLI, ['graph', '--format', 'dot'], repo.dir, {});
    expect(dot.stdout).toContain('"base" -> "app";');
  });

  test.each<[string, string[], Record<string, string>, number, RegExp]>([
    [
      'an unknown command',
      ['deploy'],
      {},
      2,
      new RegExp(`^error: unknown command "deploy" \\(commands: ${COMMANDS.join(', ')}\\)\\n$`),
    ],
    ['an unknown option', ['plan', '--nope'], {}, 2, /^error: Unknown option '--nope'/],
    ['a bad --format', ['graph', '--format', 'png'], {}, 2, /--format must be mermaid or dot/],
    [
      'a missing --changed-files file',
      ['plan', '--changed-files', 'nope.txt'],
      {},
      2,
      /--changed-files nope\.txt: ENOENT/,
    ],
    ['an unknown --since ref', ['plan', '--since', 'no-such-ref'], {}, 1, /no-such-ref/],
    [
      'an image that does not exist',
      ['plan', '--images', 'nope'],
      {},
      1,
      /no image is named "nope" \(images: app, base, web\)/,
    ],
  ])('%s ends with one message and its exit code', async (_what, args, env, code, message) => {
    const { repo } = await exampleRepo();
    const ran = await runNode(CLI, args, repo.dir, env);
    expect(ran.code).toBe(code);
    expect(ran.stderr).toMatch(message);
    expect(ran.stderr).not.toMatch(/\n\s+at /);
  });

  test('a broken config names file and line', async () => {
    const { repo } = await exampleRepo();
    await writeFile(
      join(repo.dir, 'image-builder.yml'),
      'registry: ghcr.io/acme\nimages:\n  app:\n    platforms: linux/amd64\n',
    );
    const ran = await runNode(CLI, ['plan'], repo.dir, {});
    expect(ran.code).toBe(1);
    expect(ran.stderr).toMatch(
      /^error: image-builder\.yml:4(:\d+)?: images\.app\.platforms: expected a list/,
    );
    expect(ran.stderr.trim().split('\n')).toHaveLength(1);
  });

  test('on GitLab: sections in the log and outputs in a dotenv file', async () => {
    const { repo, first, second } = await exampleRepo();
    const folder = await tempDir();
    const dotenv = join(folder, 'build.env');
    const report = join(folder, 'report.json');
    const ran = await runNode(CLI, ['plan'], repo.dir, {
      GITLAB_CI: 'true',
      CI_PIPELINE_SOURCE: 'push',
      CI_COMMIT_SHA: second,
      CI_COMMIT_BEFORE_SHA: first,
      CI_COMMIT_REF_NAME: 'main',
      CI_COMMIT_BRANCH: 'main',
      CI_DEFAULT_BRANCH: 'main',
      IMAGE_BUILDER_DOTENV: dotenv,
      IMAGE_BUILDER_REPORT: report,
    });
    expect(ran.code).toBe(0);
    // Collapsible sections as GitLab's job log reads them.
    expect(ran.stdout).toContain('\u001b[0Ksection_start:');
    expect(ran.stdout).toMatch(/section_start:\d+:image_builder_\d+\[collapsed=true\]/);
    const env = Object.fromEntries(
      (await readFile(dotenv, 'utf8'))
        .trim()
        .split('\n')
        .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
    );
    expect(JSON.parse(env.IMAGE_BUILDER_AFFECTED ?? '')).toEqual(['base', 'app']);
    // The plan is too large for GitLab's 5 KB dotenv limit once a few images are in it: the
    // JSON report always has every output.
    const outputs = JSON.parse(await readFile(report, 'utf8')) as Record<string, string>;
    expect(Object.keys(env).every((name) => name.length + (env[name]?.length ?? 0) < 2100)).toBe(
      true,
    );
    expect((JSON.parse(outputs.plan ?? '') as Plan).images[1]?.tags).toEqual([
      second,
      'main',
      'latest',
    ]);
  });
});

describe('GitHub action', () => {
  async function githubFiles(payload: unknown) {
    const dir = await tempDir('image-builder-gh-');
    const files = {
      event: join(dir, 'event.json'),
      output: join(dir, 'output'),
      state: join(dir, 'state'),
      summary: join(dir, 'summary'),
    };
    await writeFile(files.event, JSON.stringify(payload));
    for (const file of [files.output, files.state, files.summary]) await writeFile(file, '');
    return files;
  }

  function parseCommandFile(text: string): Record<string, string> {
    // name<<delimiter\nvalue\ndelimiter, as @actions/core writes GITHUB_OUTPUT and GITHUB_STATE
    const values: Record<string, string> = {};
    const pattern = /^(.+?)<<(.+)\n([\s\S]*?)\n\2$/gm;
    for (const match of text.matchAll(pattern)) values[match[1] as string] = match[3] as string;
    return values;
  }

  test('command: plan sets the plan, affected and matrix outputs, and the post step is quiet', async () => {
    const { repo, first, second } = await exampleRepo();
    const files = await githubFiles({
      before: first,
      after: second,
      repository: { default_branch: 'main' },
    });
    const env = {
      GITHUB_ACTIONS: 'true',
      GITHUB_EVENT_NAME: 'push',
      GITHUB_EVENT_PATH: files.event,
      GITHUB_SHA: second,
      GITHUB_REF: 'refs/heads/main',
      GITHUB_REF_NAME: 'main',
      GITHUB_REF_TYPE: 'branch',
      GITHUB_REPOSITORY: 'acme/images',
      GITHUB_OUTPUT: files.output,
      GITHUB_STATE: files.state,
      GITHUB_STEP_SUMMARY: files.summary,
      INPUT_COMMAND: 'plan',
      INPUT_REGISTRY: 'localhost:5000',
      'INPUT_WORKING-DIRECTORY': repo.dir,
    };
    const ran = await runNode(ACTION, [], repo.dir, env);
    expect(ran.stdout).not.toContain('::error');
    expect(ran.code).toBe(0);
    const outputs = parseCommandFile(await readFile(files.output, 'utf8'));
    expect(JSON.parse(outputs.affected ?? '')).toEqual(['base', 'app']);
    expect(JSON.parse(outputs.matrix ?? '')).toEqual({
      include: [
        { image: 'base', level: 0 },
        { image: 'app', level: 1 },
      ],
    });
    const plan = JSON.parse(outputs.plan ?? '') as Plan;
    expect(plan.images.map((image) => [image.repository, image.tags])).toEqual([
      ['localhost:5000/base', [second, 'main', 'latest']],
      ['localhost:5000/app', [second, 'main', 'latest']],
    ]);
    const summary = await readFile(files.summary, 'utf8');
    expect(summary).toContain('```mermaid');
    expect(summary).toMatch(/\| `?base`? \|/);
    const state = parseCommandFile(await readFile(files.state, 'utf8'));
    expect(state.isPost).toBe('true');

    const post = await runNode(ACTION, [], repo.dir, { ...env, STATE_isPost: 'true' });
    expect(post.code).toBe(0);
  });

  test('a config error becomes an annotation at its file and line, and fails the step', async () => {
    const { repo, first, second } = await exampleRepo();
    await writeFile(join(repo.dir, 'image-builder.yml'), 'builder: docker\n');
    const files = await githubFiles({
      before: first,
      after: second,
      repository: { default_branch: 'main' },
    });
    const ran = await runNode(ACTION, [], repo.dir, {
      GITHUB_ACTIONS: 'true',
      GITHUB_EVENT_NAME: 'push',
      GITHUB_EVENT_PATH: files.event,
      GITHUB_SHA: second,
      GITHUB_REF: 'refs/heads/main',
      GITHUB_OUTPUT: files.output,
      GITHUB_STATE: files.state,
      'INPUT_WORKING-DIRECTORY': repo.dir,
    });
    expect(ran.code).toBe(1);
    expect(ran.stdout).toMatch(
      /::error file=image-builder\.yml,line=1(,col=\d+)?::image-builder\.yml:1(:\d+)?: builder: /,
    );
    expect(ran.stdout).not.toMatch(/\n\s+at /);
  });

  test('the post step removes the private folders a killed run left behind', async () => {
    const left = await tempDir('image-builder-auth-');
    await writeFile(join(left, 'config.json'), '{"auths":{}}', { mode: 0o600 });
    const post = await runNode(ACTION, [], left, {
      GITHUB_ACTIONS: 'true',
      STATE_isPost: 'true',
      STATE_cleanup: JSON.stringify([left]),
    });
    expect(post.code).toBe(0);
    await expect(readFile(join(left, 'config.json'))).rejects.toThrow(/ENOENT/);
  });

  test.each([
    [
      'INPUT_COMMAND',
      'deploy',
      new RegExp(`input command: expected one of ${COMMANDS.join(', ')}, got "deploy"`),
    ],
    ['INPUT_ALL', 'yes', /input all: expected true or false, got "yes"/],
  ])('input %s=%s is refused with what was expected', async (name, value, message) => {
    const { repo } = await exampleRepo();
    const ran = await runNode(ACTION, [], repo.dir, { GITHUB_ACTIONS: 'true', [name]: value });
    expect(ran.code).toBe(1);
    expect(ran.stdout).toMatch(message);
    // One annotation per mistake, not two.
    expect(ran.stdout.match(/::error/g)).toHaveLength(1);
  });
});
