// A corpus of bad input, run through the bundled CLI as users run it: each case ends with
// one clear message (file and line where there is one), no stack trace, a non-zero exit and
// the registry untouched. A few positive controls show that names which are only bad for a
// particular tag rule are fine with the default one.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Plan } from '../src/core/plan.js';
import type { FileChanges, TempRepo } from './support/git-repo.js';
import { cleanupRepos, git, makeRepo, tempDir } from './support/git-repo.js';
import type { TestRegistry } from './support/registry.js';
import { startRegistry } from './support/registry.js';

const CLI = resolve('dist/cli/index.js');
const ZERO = '0'.repeat(40);
const MISSING_SHA = 'deadbeef'.repeat(5);

let registry: TestRegistry;

async function catalog(): Promise<string> {
  const response = await fetch(`http://${registry.host}/v2/_catalog`);
  return `${response.status} ${await response.text()}`;
}

beforeAll(async () => {
  registry = await startRegistry();
});
afterAll(async () => {
  await registry.stop();
  await cleanupRepos();
});

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

function runCli(args: string[], cwd: string, env: Record<string, string>): Promise<Ran> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      {
        cwd,
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
        timeout: 60_000,
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        done({ code, stdout, stderr });
      },
    );
  });
}

/** The repository every case starts from: two images, base and app on base. */
const BASE: FileChanges = {
  'images/base/Dockerfile': 'FROM scratch\nCOPY . /\n',
  'images/app/Dockerfile': 'FROM base\nCOPY . /app/\n',
};

interface Context {
  repo: TempRepo;
  first: string;
  second: string;
  /** A folder outside the repository. */
  outside: string;
}

/** A simulated GitHub push of `branch` from `before` to `after` (defaults: first → second). */
interface GithubPush {
  branch?: string;
  /** Replaces the payload entirely (a string is written as is). */
  payload?: (context: Context) => unknown;
  /** Extra or overriding variables. */
  env?: Record<string, string>;
}

interface Case {
  /** Files over BASE before the second commit (null deletes). */
  files?: FileChanges;
  /** Anything else to do to the repository before the second commit. */
  setup?: (context: Context) => Promise<void>;
  command?: 'build' | 'plan';
  args?: (context: Context) => string[];
  github?: GithubPush;
  /** What the error line says. */
  message: RegExp;
  /** `file:line` the message names, when there is one. */
  at?: string;
}

const yml = (text: string): FileChanges => ({ 'image-builder.yml': text });

async function prepare(testCase: Case): Promise<Context> {
  const repo = await makeRepo();
  const first = await repo.commit('initial', BASE);
  const outside = await tempDir('image-builder-outside-');
  await writeFile(join(outside, 'Dockerfile'), 'FROM scratch\n');
  const partial = { repo, first, second: '', outside };
  await repo.write(testCase.files ?? {});
  if (testCase.setup) await testCase.setup(partial);
  await repo.git('add', '-A');
  const second = await repo.commit('change');
  return { ...partial, second };
}

async function githubEnv(push: GithubPush, context: Context): Promise<Record<string, string>> {
  const branch = push.branch ?? 'main';
  const dir = await tempDir('image-builder-event-');
  const eventPath = join(dir, 'event.json');
  const payload = push.payload
    ? push.payload(context)
    : {
        ref: `refs/heads/${branch}`,
        before: context.first,
        after: context.second,
        repository: { default_branch: 'main', full_name: 'acme/images' },
      };
  await writeFile(eventPath, typeof payload === 'string' ? payload : JSON.stringify(payload));
  return {
    GITHUB_ACTIONS: 'true',
    GITHUB_EVENT_NAME: 'push',
    GITHUB_EVENT_PATH: eventPath,
    GITHUB_SHA: context.second,
    GITHUB_REF: `refs/heads/${branch}`,
    GITHUB_REF_NAME: branch,
    GITHUB_REF_TYPE: 'branch',
    GITHUB_REPOSITORY: 'acme/images',
    ...push.env,
  };
}

/** The messages a run printed on stderr: one error line, and nothing else but warnings. */
function expectOneError(stderr: string): string {
  expect(stderr).not.toMatch(/\n\s+at /);
  const lines = stderr.replace(/\n$/, '').split('\n');
  const errors = lines.filter((line) => line.startsWith('error: '));
  expect(errors).toHaveLength(1);
  expect(
    lines.filter((line) => !line.startsWith('error: ') && !line.startsWith('warning:')),
  ).toEqual([]);
  return errors[0] as string;
}

const REGISTRY_ARG = "build-args:\n  REGISTRY: '{registry}'\n";
const longTag = 'a'.repeat(200);
const tagsRule = (rule: string): FileChanges => yml(`tags: ['${rule}']\n`);

// [description, case]
const CASES: [string, Case][] = [
  // ---- config: YAML ----
  [
    'broken YAML (unclosed flow sequence)',
    {
      files: yml('tags: [sha,\nprefix: x\n'),
      message: /image-builder\.yml/,
      at: 'image-builder.yml:',
    },
  ],
  [
    'broken YAML (bad indentation)',
    {
      files: yml('images:\n  app:\n      context: images/app\n    dockerfile: x\n'),
      message: /image-builder\.yml/,
      at: 'image-builder.yml:',
    },
  ],
  [
    'a duplicate key',
    { files: yml('prefix: a-\nprefix: b-\n'), message: /prefix/, at: 'image-builder.yml:2' },
  ],
  [
    'a duplicate image entry',
    {
      files: yml(
        'images:\n  app:\n    platforms: [linux/amd64]\n  app:\n    platforms: [linux/arm64]\n',
      ),
      message: /app/,
      at: 'image-builder.yml:4',
    },
  ],
  [
    'a tab used for indentation',
    {
      files: yml('images:\n\tapp: {}\n'),
      message: /image-builder\.yml/,
      at: 'image-builder.yml:2',
    },
  ],
  [
    'an alias to an undefined anchor',
    { files: yml('tags: *nope\n'), message: /nope/, at: 'image-builder.yml:1' },
  ],
  [
    'a list at the top level',
    { files: yml('- registry: x\n'), message: /image-builder\.yml/, at: 'image-builder.yml:1' },
  ],
  [
    'a scalar at the top level',
    { files: yml('just some words\n'), message: /image-builder\.yml/, at: 'image-builder.yml:1' },
  ],
  [
    'two YAML documents',
    {
      files: yml('prefix: a-\n---\nprefix: b-\n'),
      message: /image-builder\.yml/,
      at: 'image-builder.yml:',
    },
  ],
  // ---- config: keys and types ----
  [
    'an unknown top-level key',
    {
      files: yml('prefix: a-\nregistri: ghcr.io/acme\n'),
      message: /registri/,
      at: 'image-builder.yml:2',
    },
  ],
  [
    'an unknown image key',
    {
      files: yml('images:\n  app:\n    dockerfil: images/app/Dockerfile\n'),
      message: /dockerfil/,
      at: 'image-builder.yml:3',
    },
  ],
  [
    'platforms as a string',
    {
      files: yml('images:\n  app:\n    platforms: linux/amd64\n'),
      message: /platforms: expected a list/,
      at: 'image-builder.yml:3',
    },
  ],
  [
    'an unknown builder',
    { files: yml('builder: docker\n'), message: /builder/, at: 'image-builder.yml:1' },
  ],
  [
    'max-parallel as a word',
    { files: yml('max-parallel: many\n'), message: /max-parallel/, at: 'image-builder.yml:1' },
  ],
  [
    'a negative sha-short-length',
    {
      files: yml('sha-short-length: -3\n'),
      message: /sha-short-length/,
      at: 'image-builder.yml:1',
    },
  ],
  [
    'build-args as a list',
    { files: yml('build-args: [A=1]\n'), message: /build-args/, at: 'image-builder.yml:1' },
  ],
  [
    'tags as a mapping',
    { files: yml('tags:\n  sha: true\n'), message: /tags/, at: 'image-builder.yml:' },
  ],
  [
    'images as a list',
    { files: yml('images:\n  - app\n'), message: /images/, at: 'image-builder.yml:' },
  ],
  [
    'an invalid image name in the config',
    {
      files: yml('images:\n  "my app":\n    context: images/app\n'),
      message: /my app/,
      at: 'image-builder.yml:2',
    },
  ],
  [
    'an unknown placeholder in a tag rule',
    { files: tagsRule('v-{{nope}}'), message: /\{\{nope\}\}/ },
  ],
  [
    'an unknown placeholder in the repository template',
    { files: yml('repository: "{registry}/{nope}"\n'), message: /nope/ },
  ],
  [
    'a --config file that does not exist',
    { args: () => ['--config', 'nope.yml'], message: /nope\.yml/ },
  ],
  [
    'a --config path outside the repository',
    { args: () => ['--config', '../../etc/passwd'], message: /passwd|outside|\.\./ },
  ],
  // ---- tags ----
  ['a tag that starts with a dash', { files: tagsRule('-bad'), message: /"-bad"/ }],
  ['a tag with a slash', { files: tagsRule('release/1'), message: /release\/1/ }],
  ['a tag with a colon', { files: tagsRule('v:1'), message: /v:1/ }],
  [
    'a 200-character tag',
    {
      files: tagsRule(longTag),
      message: /tags\[0\]: at most 128 characters, got 200/,
      at: 'image-builder.yml:1',
    },
  ],
  ['a tag with a space', { files: tagsRule('two words'), message: /two words/ }],
  // ---- repositories and names ----
  [
    'an uppercase --registry namespace',
    { args: () => ['--registry', `${'REG'}/Corpus`], message: /Corpus|uppercase|lowercase/ },
  ],
  [
    'an uppercase repository template',
    { files: yml('repository: "{registry}/Acme/{image}"\n'), message: /Acme|uppercase|lowercase/ },
  ],
  [
    'a --registry with a space',
    { args: () => ['--registry', 'REG/has space'], message: /has space/ },
  ],
  [
    'a --registry with shell metacharacters',
    { args: () => ['--registry', 'REG/$(touch pwned);x'], message: /\$\(touch pwned\);x|registry/ },
  ],
  [
    'two images on one repository',
    {
      files: yml(
        'images:\n  one:\n    context: images/base\n    repository: "{registry}/same"\n  two:\n    context: images/app\n    repository: "{registry}/same"\n',
      ),
      message: /same/,
    },
  ],
  [
    '--images naming no image',
    { args: () => ['--images', 'nope'], message: /no image is named "nope"/ },
  ],
  [
    '--images with shell metacharacters',
    { args: () => ['--images', 'app;rm -rf /'], message: /no image is named "app;rm"/ },
  ],
  [
    '--since a ref that does not exist',
    { command: 'plan', args: () => ['--since', 'no-such-ref'], message: /no-such-ref/ },
  ],
  [
    '--since an option in disguise',
    {
      command: 'plan',
      args: () => ['--since=--output=/tmp/x'],
      message: /cannot start with "-"/,
    },
  ],
  [
    '--since a command substitution',
    { command: 'plan', args: () => ['--since', '$(touch pwned)'], message: /\$\(touch pwned\)/ },
  ],
  ['--max-parallel 0', { args: () => ['--max-parallel', '0'], message: /max-parallel/ }],
  // ---- Dockerfiles and the graph ----
  [
    'a cycle of two images',
    {
      files: {
        ...yml(REGISTRY_ARG),
        'images/base/Dockerfile': 'ARG REGISTRY\nFROM ${REGISTRY}/app\n',
        'images/app/Dockerfile': 'ARG REGISTRY\nFROM ${REGISTRY}/base\n',
      },
      message: /cycle/i,
    },
  ],
  [
    'a cycle of three images',
    {
      files: {
        ...yml(REGISTRY_ARG),
        'images/base/Dockerfile': 'ARG REGISTRY\nFROM ${REGISTRY}/web\n',
        'images/web/Dockerfile': 'ARG REGISTRY\nFROM ${REGISTRY}/app\n',
        'images/app/Dockerfile': 'ARG REGISTRY\nFROM ${REGISTRY}/base\n',
      },
      message: /cycle/i,
    },
  ],
  [
    'a Dockerfile without FROM',
    {
      files: { 'images/base/Dockerfile': 'RUN true\n' },
      message: /FROM/,
      at: 'images/base/Dockerfile:',
    },
  ],
  [
    'a FROM without an image',
    {
      files: { 'images/base/Dockerfile': '# base\nFROM\n' },
      message: /FROM/,
      at: 'images/base/Dockerfile:2',
    },
  ],
  [
    'an empty Dockerfile',
    { files: { 'images/base/Dockerfile': '' }, message: /images\/base\/Dockerfile/ },
  ],
  [
    'an unterminated heredoc',
    {
      files: { 'images/base/Dockerfile': 'FROM scratch\nRUN <<EOF\necho hi\n' },
      message: /EOF|heredoc/,
      at: 'images/base/Dockerfile:2',
    },
  ],
  [
    'a configured Dockerfile that does not exist',
    {
      files: yml('images:\n  app:\n    dockerfile: images/app/Dockerfile.missing\n'),
      message: /Dockerfile\.missing/,
    },
  ],
  [
    'a configured context that does not exist',
    { files: yml('images:\n  extra:\n    context: nowhere\n'), message: /nowhere/ },
  ],
  [
    'a context escaping by ..',
    { files: yml('images:\n  app:\n    context: ../..\n'), message: /\.\.\/\.\./ },
  ],
  [
    'a Dockerfile escaping by ..',
    { files: yml('images:\n  app:\n    dockerfile: ../Dockerfile\n'), message: /\.\.\/Dockerfile/ },
  ],
  ['an absolute context', { files: yml('images:\n  app:\n    context: /etc\n'), message: /\/etc/ }],
  [
    'a configured context that is a symlink out',
    {
      files: yml('images:\n  evil:\n    context: images/evil\n'),
      setup: async ({ repo, outside }) => symlink(outside, join(repo.dir, 'images', 'evil')),
      message: /images\/evil/,
    },
  ],
  [
    'a Dockerfile that is a symlink out',
    {
      setup: async ({ repo, outside }) => {
        await mkdir(join(repo.dir, 'images', 'evil'));
        await symlink(join(outside, 'Dockerfile'), join(repo.dir, 'images', 'evil', 'Dockerfile'));
      },
      message: /images\/evil/,
    },
  ],
  // ---- events ----
  [
    'GITHUB_EVENT_PATH that does not exist',
    { github: { env: { GITHUB_EVENT_PATH: '/nonexistent/event.json' } }, message: /event/ },
  ],
  [
    'GITHUB_EVENT_PATH unset',
    { github: { env: { GITHUB_EVENT_PATH: '' } }, message: /GITHUB_EVENT_PATH/ },
  ],
  [
    'an event payload that is a list',
    { github: { payload: () => [] }, message: /not a JSON object/ },
  ],
  [
    'a push payload without "after"',
    {
      github: { payload: ({ first }) => ({ ref: 'refs/heads/main', before: first }) },
      message: /"after"/,
    },
  ],
  [
    'a push payload with a short "after"',
    {
      github: {
        payload: ({ first }) => ({ ref: 'refs/heads/main', before: first, after: 'abc123' }),
      },
      message: /"after"/,
    },
  ],
  [
    'a push payload with an invalid "before"',
    {
      github: {
        payload: ({ second }) => ({ ref: 'refs/heads/main', before: 'HEAD~1', after: second }),
      },
      message: /"before"/,
    },
  ],
  [
    'a push that deletes the branch',
    {
      github: { payload: ({ first }) => ({ ref: 'refs/heads/main', before: first, after: ZERO }) },
      message: /deletes/,
    },
  ],
  [
    'a pull_request payload without "pull_request"',
    { github: { env: { GITHUB_EVENT_NAME: 'pull_request' } }, message: /"pull_request"/ },
  ],
  [
    'GITHUB_EVENT_NAME unset',
    { github: { env: { GITHUB_EVENT_NAME: '' } }, message: /GITHUB_EVENT_NAME/ },
  ],
  [
    'GitLab without CI_PIPELINE_SOURCE',
    { github: { env: { GITHUB_ACTIONS: '', GITLAB_CI: 'true' } }, message: /CI_PIPELINE_SOURCE/ },
  ],
];

// Found by this corpus and fixed: a payload that is not JSON used to end in a stack trace
// (@actions/github parsed it at load), and an event commit missing from the repository used
// to be tagged on whatever HEAD held.
CASES.push(
  [
    'an event payload that is not JSON',
    { github: { payload: () => '{"after": ' }, message: /event/ },
  ],
  [
    'an "after" sha that does not exist',
    {
      command: 'plan',
      github: {
        payload: ({ first }) => ({ ref: 'refs/heads/main', before: first, after: MISSING_SHA }),
        env: { GITHUB_SHA: MISSING_SHA },
      },
      message: new RegExp(MISSING_SHA),
    },
  ],
);

/** Branch names that git accepts but that are no valid tag as they are. */
const BRANCHES: [string, string][] = [
  ['a slash', 'feature/login'],
  ['a hash', 'fix#12'],
  ['unicode', 'naïve-ünïcode'],
  ['a command substitution', '$(touch${IFS}pwned)'],
  ['a semicolon', 'a;touch${IFS}pwned'],
  ['backticks', '`touch${IFS}pwned`'],
  ['200 characters', `b${'r'.repeat(199)}`],
];

for (const [what, branch] of BRANCHES) {
  CASES.push([
    `branch with ${what} under a {{branch}} tag rule`,
    {
      files: tagsRule('{{branch}}'),
      github: { branch },
      message: /tag rule "\{\{branch\}\}" gives/,
    },
  ]);
}
CASES.push([
  'a branch with a space (no git ref) under a {{branch}} tag rule',
  {
    files: tagsRule('{{branch}}'),
    github: { branch: 'my branch' },
    message: /tag rule "\{\{branch\}\}" gives/,
  },
]);

async function expectCleanFailure(testCase: Case): Promise<void> {
  const catalogBefore = await catalog();
  const context = await prepare(testCase);
  const env = testCase.github ? await githubEnv(testCase.github, context) : {};
  const args = (testCase.args?.(context) ?? []).map((arg) =>
    arg.replace(/^REG\//, `${registry.host}/`),
  );
  const hasRegistry = args.includes('--registry');
  const ran = await runCli(
    [
      testCase.command ?? 'build',
      ...(hasRegistry ? [] : ['--registry', `${registry.host}/corpus`]),
      ...args,
    ],
    context.repo.dir,
    env,
  );
  const detail = `exit ${ran.code}\nstderr: ${ran.stderr}\nstdout: ${ran.stdout}`;
  expect({ nonZero: ran.code !== 0, detail }).toEqual({ nonZero: true, detail });
  const line = expectOneError(ran.stderr);
  expect(line).toMatch(testCase.message);
  if (testCase.at !== undefined) expect(line).toContain(`error: ${testCase.at}`);
  expect(existsSync(join(context.repo.dir, 'pwned'))).toBe(false);
  expect(await catalog()).toBe(catalogBefore);
}

describe('bad input through the bundled CLI', () => {
  test('the corpus holds at least 50 cases', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(50);
  });

  test.each(CASES)('%s', async (_what, testCase) => {
    await expectCleanFailure(testCase);
  });
});

describe('positive controls: odd branch names under the default ref-slug rule', () => {
  test.each([...BRANCHES, ['uppercase', 'Feature/UPPER']])(
    'a branch with %s plans cleanly',
    async (_what, branch) => {
      await expect(git(process.cwd(), 'check-ref-format', '--branch', branch)).resolves.toBe(
        branch,
      );
      const catalogBefore = await catalog();
      const context = await prepare({ message: /./ });
      const env = await githubEnv({ branch }, context);
      const ran = await runCli(
        ['plan', '--json', '--registry', `${registry.host}/corpus`],
        context.repo.dir,
        env,
      );
      expect({ code: ran.code, stderr: ran.stderr }).toEqual({ code: 0, stderr: '' });
      const plan = JSON.parse(ran.stdout) as Plan;
      const slug = branch
        .toLowerCase()
        .replace(/[^a-z0-9]/g, '-')
        .slice(0, 63)
        .replace(/^-+|-+$/g, '');
      for (const image of plan.images) expect(image.tags).toEqual([context.second, slug]);
      expect(existsSync(join(context.repo.dir, 'pwned'))).toBe(false);
      expect(await catalog()).toBe(catalogBefore);
    },
  );
});
