import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { getOctokit } from '@actions/github';

import { Git } from '../../src/adapters/git.js';
import { detectChanges, githubCompare } from '../../src/changes/detect.js';
import type { CompareFunction } from '../../src/changes/detect.js';
import { readGithubEvent, readGitlabEvent, readLocalEvent } from '../../src/core/ci-event.js';
import { EventError } from '../../src/core/errors.js';
import type { ChangeSet, CiEvent } from '../../src/core/types.js';
import { cleanupRepos, cloneRemote, makeRemote, makeRepo } from '../support/git-repo.js';
import type { Remote, TempRepo } from '../support/git-repo.js';

afterAll(cleanupRepos);

const ZERO = '0'.repeat(40);
/** A folder that does not exist: where git must not even be asked. */
const NO_REPOSITORY = join(tmpdir(), 'image-builder-no-such-folder');
const short = (sha: string) => sha.slice(0, 7);

/** A GitHub push event as the runner would describe it. */
function githubPush(ref: string, before: string, after: string, defaultBranch = 'main'): CiEvent {
  return readGithubEvent(
    { GITHUB_EVENT_NAME: 'push', GITHUB_REPOSITORY: 'acme/images', GITHUB_SHA: after },
    { ref: `refs/heads/${ref}`, before, after, repository: { default_branch: defaultBranch } },
  );
}

function githubPullRequest(headRef: string, head: string, base: string): CiEvent {
  return readGithubEvent(
    { GITHUB_EVENT_NAME: 'pull_request', GITHUB_REPOSITORY: 'acme/images' },
    {
      pull_request: {
        head: { ref: headRef, sha: head },
        base: { ref: 'main', sha: base },
      },
      repository: { default_branch: 'main' },
    },
  );
}

/** Collects log lines, to see how an answer was reached. */
function recorder(): { lines: string[]; log: (line: string) => void } {
  const lines: string[] = [];
  return { lines, log: (line) => lines.push(line) };
}

/** A compare function that records its calls and answers with fixed files. */
function fakeCompare(answer: { files: string[]; truncated: boolean } | Error): {
  calls: [string, string][];
  compare: CompareFunction;
} {
  const calls: [string, string][] = [];
  return {
    calls,
    compare: async (base, head) => {
      calls.push([base, head]);
      if (answer instanceof Error) throw answer;
      return answer;
    },
  };
}

function expectPaths(changes: ChangeSet, paths: string[]): void {
  expect(changes).toMatchObject({ all: false });
  if (!changes.all) expect(changes.paths).toEqual([...paths].sort());
}

interface History {
  repo: TempRepo;
  remote: Remote;
  /** main: root -> api -> web -> docs */
  root: string;
  api: string;
  web: string;
  docs: string;
}

/** A small monorepo with four commits on main, pushed to a bare remote. */
async function linearHistory(): Promise<History> {
  const repo = await makeRepo();
  const root = await repo.commit('root', {
    'images/api/Dockerfile': 'FROM alpine:3.20\n',
    'images/web/Dockerfile': 'FROM nginx:1.27\n',
    'README.md': '# images\n',
  });
  const api = await repo.commit('api', { 'images/api/app.py': 'print(1)\n' });
  const web = await repo.commit('web', { 'images/web/index.html': '<p>hi</p>\n' });
  const docs = await repo.commit('docs', { 'README.md': '# images, documented\n' });
  const remote = await makeRemote(repo);
  return { repo, remote, root, api, web, docs };
}

interface Branches extends History {
  /** feature leaves main at `api` with two commits; main then moves on with `web` and `docs`. */
  feature1: string;
  feature2: string;
}

async function branchedHistory(): Promise<Branches> {
  const repo = await makeRepo();
  const root = await repo.commit('root', {
    'images/api/Dockerfile': 'FROM alpine:3.20\n',
    'images/web/Dockerfile': 'FROM nginx:1.27\n',
    'README.md': '# images\n',
  });
  const api = await repo.commit('api', { 'images/api/app.py': 'print(1)\n' });
  await repo.checkout('-b', 'feature');
  const feature1 = await repo.commit('feature 1', { 'images/api/app.py': 'print(2)\n' });
  const feature2 = await repo.commit('feature 2', { 'images/worker/Dockerfile': 'FROM api\n' });
  await repo.checkout('main');
  const web = await repo.commit('web', { 'images/web/index.html': '<p>hi</p>\n' });
  const docs = await repo.commit('docs', { 'README.md': '# more\n' });
  const remote = await makeRemote(repo);
  await repo.push('main', 'feature');
  return { repo, remote, root, api, web, docs, feature1, feature2 };
}

const FEATURE_PATHS = ['images/api/app.py', 'images/worker/Dockerfile'];

describe('push: before..after', () => {
  test('full clone', async () => {
    const { remote, api, docs } = await linearHistory();
    const clone = await cloneRemote(remote);
    const changes = await detectChanges(githubPush('main', api, docs), new Git(clone.dir));
    expect(changes).toEqual({
      all: false,
      paths: ['README.md', 'images/web/index.html'],
      how: `git diff ${short(api)}..${short(docs)} (push)`,
      base: api,
      head: docs,
    });
  });

  test('depth-1 clone: the before commit is fetched by sha', async () => {
    const { remote, root, docs } = await linearHistory();
    const clone = await cloneRemote(remote, { depth: 1 });
    const { lines, log } = recorder();
    const changes = await detectChanges(githubPush('main', root, docs), new Git(clone.dir), {
      log,
    });
    expectPaths(changes, ['README.md', 'images/api/app.py', 'images/web/index.html']);
    expect(lines).toContain(`before commit ${short(root)} is not in the clone; fetching it`);
    expect(lines).toContain(`fetched before commit ${short(root)}`);
  });

  test('depth-1 clone from a server that refuses unadvertised commits: deepened until found', async () => {
    const { remote, root, docs } = await linearHistory();
    const clone = await cloneRemote(remote, { depth: 1, protocolV0: true });
    const git = new Git(clone.dir);
    // The server really refuses: fetching by sha fails here.
    expect(await git.fetchCommit(root, 1)).toBe(false);

    const { lines, log } = recorder();
    const changes = await detectChanges(githubPush('main', root, docs), git, { log });
    expectPaths(changes, ['README.md', 'images/api/app.py', 'images/web/index.html']);
    expect(lines).toContain('deepened the shallow clone by 50 commits (50 in all)');
    expect(changes).toMatchObject({ how: `git diff ${short(root)}..${short(docs)} (push)` });
  });

  test('deepening stops at maxDeepen and then says why everything is built', async () => {
    const { remote, root, docs } = await linearHistory();
    const clone = await cloneRemote(remote, { depth: 1, protocolV0: true });
    const { lines, log } = recorder();
    const changes = await detectChanges(githubPush('main', root, docs), new Git(clone.dir), {
      log,
      maxDeepen: 1,
    });
    expect(changes).toEqual({
      all: true,
      reason: `all: before commit ${short(root)} is not in the shallow clone, even deepened by 1 commits and the compare API was not available`,
      head: docs,
    });
    expect(lines).toContain('deepened the shallow clone by 1 commits (1 in all)');
    expect(lines.some((line) => line.includes('unshallow'))).toBe(false);
  });

  test('renames count both paths; deletions and odd names count', async () => {
    const repo = await makeRepo();
    const before = await repo.commit('before', {
      'images/api/Dockerfile': 'FROM alpine\n',
      'images/old-name/Dockerfile': 'FROM alpine:3.20 AS base\nRUN true\n',
      'images/gone/Dockerfile': 'FROM scratch\n',
    });
    await repo.rename('images/old-name/Dockerfile', 'images/new-name/Dockerfile');
    const after = await repo.commit('more', {
      'images/gone/Dockerfile': null,
      'images/with space/Dockerfile': 'FROM alpine\n',
      'images/ünïcødé/Dockerfile': 'FROM alpine\n',
      'images/new\nline/Dockerfile': 'FROM alpine\n',
    });
    const remote = await makeRemote(repo);
    const clone = await cloneRemote(remote, { depth: 1 });
    const changes = await detectChanges(githubPush('main', before, after), new Git(clone.dir));
    expectPaths(changes, [
      'images/gone/Dockerfile',
      'images/new-name/Dockerfile',
      'images/old-name/Dockerfile',
      'images/with space/Dockerfile',
      'images/ünïcødé/Dockerfile',
      'images/new\nline/Dockerfile',
    ]);
  });
});

describe('force push', () => {
  /** main is pushed at `docs`, then rewritten from `api` and force-pushed. */
  async function forcePushed(options: { gc: boolean }) {
    const history = await linearHistory();
    const { repo, remote, api } = history;
    await repo.push('main');
    await repo.git('reset', '-q', '--hard', api);
    const rewritten = await repo.commit('rewritten', { 'images/api/app.py': 'print(3)\n' });
    await repo.push('+main');
    if (options.gc) await remote.gc();
    return { ...history, before: history.docs, after: rewritten };
  }

  test('before gone from the remote: everything, and exactly why', async () => {
    const { remote, before, after } = await forcePushed({ gc: true });
    const clone = await cloneRemote(remote, { depth: 1 });
    const { lines, log } = recorder();
    const changes = await detectChanges(githubPush('main', before, after), new Git(clone.dir), {
      log,
    });
    expect(changes).toEqual({
      all: true,
      reason: `all: before commit ${short(before)} is not in the history (force push?) and the compare API was not available`,
      head: after,
    });
    // It tried first: by sha, then by deepening until the clone held the whole history.
    expect(lines).toEqual([
      `before commit ${short(before)} is not in the clone; fetching it`,
      'deepened the shallow clone by 50 commits (50 in all)',
    ]);
  });

  test('before gone: the compare API answers when given', async () => {
    const { remote, before, after } = await forcePushed({ gc: true });
    const clone = await cloneRemote(remote);
    const { calls, compare } = fakeCompare({
      files: ['images/api/app.py', 'README.md', 'README.md'],
      truncated: false,
    });
    const changes = await detectChanges(githubPush('main', before, after), new Git(clone.dir), {
      compare,
    });
    expect(calls).toEqual([[before, after]]);
    expect(changes).toEqual({
      all: false,
      paths: ['README.md', 'images/api/app.py'],
      how: `compare API ${short(before)}...${short(after)} (push), because before commit ${short(before)} is not in the history (force push?)`,
      base: before,
      head: after,
    });
  });

  test.each([
    [
      'fails',
      new Error('HttpError: Not Found'),
      'and the compare API failed: HttpError: Not Found',
    ],
    [
      'is truncated',
      { files: Array.from({ length: 300 }, (_, i) => `f${i}`), truncated: true },
      'and the compare API listed only the first 300 changed files',
    ],
  ])('before gone and the compare API %s: everything', async (_title, answer, ending) => {
    const { remote, before, after } = await forcePushed({ gc: true });
    const clone = await cloneRemote(remote);
    const { compare } = fakeCompare(answer);
    const changes = await detectChanges(githubPush('main', before, after), new Git(clone.dir), {
      compare,
    });
    expect(changes).toEqual({
      all: true,
      reason: `all: before commit ${short(before)} is not in the history (force push?) ${ending}`,
      head: after,
    });
  });

  test('before still on the server: the two trees are compared', async () => {
    const { remote, before, after } = await forcePushed({ gc: false });
    const clone = await cloneRemote(remote);
    const { calls, compare } = fakeCompare({ files: [], truncated: false });
    const changes = await detectChanges(githubPush('main', before, after), new Git(clone.dir), {
      compare,
    });
    expect(calls).toEqual([]);
    // docs and web were dropped by the rewrite, api changed: all differ from what main held.
    expect(changes).toEqual({
      all: false,
      paths: ['README.md', 'images/api/app.py', 'images/web/index.html'],
      how: `git diff ${short(before)}..${short(after)} (push, before is not an ancestor: trees compared)`,
      base: before,
      head: after,
    });
  });
});

describe('merge base', () => {
  test('new branch (all-zero before): merge base with origin/main in a depth-1 clone', async () => {
    const { remote, api, feature2 } = await branchedHistory();
    const clone = await cloneRemote(remote, { depth: 1, branch: 'feature' });
    const { lines, log } = recorder();
    const changes = await detectChanges(githubPush('feature', ZERO, feature2), new Git(clone.dir), {
      log,
    });
    expect(changes).toEqual({
      all: false,
      paths: FEATURE_PATHS,
      how: `merge base ${short(api)} of origin/main and ${short(feature2)} (push)`,
      base: api,
      head: feature2,
    });
    expect(lines).toContain('origin/main is not in the clone; fetching branch main');
  });

  test('new branch on GitLab (zero CI_COMMIT_BEFORE_SHA)', async () => {
    const { remote, api, feature2 } = await branchedHistory();
    const clone = await cloneRemote(remote, { depth: 3, branch: 'feature' });
    const event = readGitlabEvent({
      CI_PIPELINE_SOURCE: 'push',
      CI_COMMIT_SHA: feature2,
      CI_COMMIT_BEFORE_SHA: ZERO,
      CI_COMMIT_BRANCH: 'feature',
      CI_DEFAULT_BRANCH: 'main',
    });
    const changes = await detectChanges(event, new Git(clone.dir));
    expect(changes).toMatchObject({ all: false, paths: FEATURE_PATHS, base: api });
  });

  test('a new default branch without a previous commit builds everything', async () => {
    const { remote, docs } = await linearHistory();
    const clone = await cloneRemote(remote, { depth: 1 });
    const changes = await detectChanges(githubPush('main', ZERO, docs), new Git(clone.dir));
    expect(changes).toEqual({
      all: true,
      reason: 'all: first push of the default branch main (no previous commit)',
      head: docs,
    });
  });

  test('pull request: head fetched by sha, deepened to the merge base', async () => {
    const { remote, api, docs, feature2 } = await branchedHistory();
    // actions/checkout fetches the test merge commit; here the clone holds main only.
    const clone = await cloneRemote(remote, { depth: 1, branch: 'main' });
    const { lines, log } = recorder();
    const changes = await detectChanges(
      githubPullRequest('feature', feature2, docs),
      new Git(clone.dir),
      { log },
    );
    expect(changes).toEqual({
      all: false,
      paths: FEATURE_PATHS,
      how: `merge base ${short(api)} of ${short(docs)} and ${short(feature2)} (pull_request)`,
      base: api,
      head: feature2,
    });
    expect(lines).toContain(`fetched head commit ${short(feature2)}`);
    expect(lines.some((line) => line.startsWith('deepened the shallow clone by 50'))).toBe(true);
  });

  test('a long branch: deepened in steps until the merge base appears', async () => {
    const repo = await makeRepo();
    const fork = await repo.commit('root', { 'images/api/Dockerfile': 'FROM alpine\n' });
    await repo.checkout('-b', 'long');
    for (let i = 0; i < 60; i++)
      await repo.commit(`step ${i}`, { 'images/api/step.txt': `${i}\n` });
    const head = await repo.head();
    await repo.checkout('main');
    const main = await repo.commit('main', { 'README.md': 'x\n' });
    const remote = await makeRemote(repo);
    await repo.push('main', 'long');
    const clone = await cloneRemote(remote, { depth: 1, branch: 'long' });
    const { lines, log } = recorder();
    const changes = await detectChanges(githubPullRequest('long', head, main), new Git(clone.dir), {
      log,
    });
    expect(changes).toMatchObject({ all: false, paths: ['images/api/step.txt'], base: fork });
    expect(lines).toEqual([
      `base commit ${short(main)} is not in the clone; fetching it`,
      `fetched base commit ${short(main)}`,
      `no merge base of ${short(main)} and ${short(head)} in the shallow clone; deepening`,
      'deepened the shallow clone by 50 commits (50 in all)',
      'deepened the shallow clone by 200 commits (250 in all)',
    ]);
  });

  test('pull request on a full clone needs no fetch', async () => {
    const { repo, api, docs, feature2 } = await branchedHistory();
    const { lines, log } = recorder();
    const changes = await detectChanges(
      githubPullRequest('feature', feature2, docs),
      new Git(repo.dir),
      { log },
    );
    expect(changes).toMatchObject({ all: false, paths: FEATURE_PATHS, base: api });
    expect(lines).toEqual([]);
  });

  test('merge queue: the group commit against the queue base', async () => {
    const { repo, remote, docs } = await branchedHistory();
    const queue = 'gh-readonly-queue/main/pr-7-0123456789abcdef0123456789abcdef01234567';
    await repo.checkout('-b', queue, 'main');
    await repo.git('merge', '-q', '--no-ff', '-m', 'Merge pull request #7', 'feature');
    const group = await repo.head();
    await repo.push(queue);
    const clone = await cloneRemote(remote, { depth: 1, branch: queue });
    const event = readGithubEvent(
      { GITHUB_EVENT_NAME: 'merge_group', GITHUB_REF_NAME: queue },
      {
        merge_group: {
          head_sha: group,
          head_ref: `refs/heads/${queue}`,
          base_sha: docs,
          base_ref: 'refs/heads/main',
        },
        repository: { default_branch: 'main' },
      },
    );
    const changes = await detectChanges(event, new Git(clone.dir));
    expect(changes).toEqual({
      all: false,
      paths: FEATURE_PATHS,
      how: `merge base ${short(docs)} of ${short(docs)} and ${short(group)} (merge_group)`,
      base: docs,
      head: group,
    });
  });

  test('GitLab merge request: merge base with CI_MERGE_REQUEST_DIFF_BASE_SHA', async () => {
    const { remote, api, feature2 } = await branchedHistory();
    const clone = await cloneRemote(remote, { depth: 1, branch: 'feature' });
    const event = readGitlabEvent({
      CI_PIPELINE_SOURCE: 'merge_request_event',
      CI_COMMIT_SHA: feature2,
      CI_COMMIT_BEFORE_SHA: ZERO,
      CI_MERGE_REQUEST_DIFF_BASE_SHA: api,
      CI_MERGE_REQUEST_SOURCE_BRANCH_NAME: 'feature',
      CI_MERGE_REQUEST_TARGET_BRANCH_NAME: 'main',
    });
    const changes = await detectChanges(event, new Git(clone.dir));
    expect(changes).toEqual({
      all: false,
      paths: FEATURE_PATHS,
      how: `merge base ${short(api)} of ${short(api)} and ${short(feature2)} (merge_request_event)`,
      base: api,
      head: feature2,
    });
  });

  test('GitLab push with a before commit', async () => {
    const { remote, api, docs } = await linearHistory();
    const clone = await cloneRemote(remote, { depth: 2 });
    const event = readGitlabEvent({
      CI_PIPELINE_SOURCE: 'push',
      CI_COMMIT_SHA: docs,
      CI_COMMIT_BEFORE_SHA: api,
      CI_COMMIT_BRANCH: 'main',
    });
    const changes = await detectChanges(event, new Git(clone.dir));
    expectPaths(changes, ['README.md', 'images/web/index.html']);
  });

  test('unrelated histories: no merge base, everything', async () => {
    const { repo, remote, docs } = await linearHistory();
    await repo.checkout('--orphan', 'island');
    const island = await repo.commit('island', { 'other.txt': 'x\n' });
    await repo.push('island');
    const clone = await cloneRemote(remote, { branch: 'island' });
    const changes = await detectChanges(
      githubPullRequest('island', island, docs),
      new Git(clone.dir),
    );
    expect(changes).toEqual({
      all: true,
      reason: `all: ${short(docs)} and ${short(island)} have no merge base in the history and the compare API was not available`,
      head: island,
    });
  });
});

describe('events that need no git', () => {
  test.each([
    [
      'tag',
      readGitlabEvent({
        CI_PIPELINE_SOURCE: 'push',
        CI_COMMIT_SHA: 'a'.repeat(40),
        CI_COMMIT_TAG: 'v1.2.0',
      }),
      'all: tag push v1.2.0',
    ],
    [
      'schedule',
      readGitlabEvent({
        CI_PIPELINE_SOURCE: 'schedule',
        CI_COMMIT_SHA: 'a'.repeat(40),
        CI_COMMIT_BRANCH: 'main',
      }),
      'all: scheduled run (schedule)',
    ],
    [
      'web',
      readGitlabEvent({
        CI_PIPELINE_SOURCE: 'web',
        CI_COMMIT_SHA: 'a'.repeat(40),
        CI_COMMIT_BRANCH: 'main',
      }),
      'all: manual run (web) without requested images',
    ],
  ])('%s builds everything', async (_title, event, reason) => {
    const git = new Git(NO_REPOSITORY);
    expect(await detectChanges(event, git)).toEqual({ all: true, reason, head: 'a'.repeat(40) });
  });

  test('images requested by name: no paths, the request says how', async () => {
    const event = readLocalEvent({ sha: 'b'.repeat(40), images: ['api', 'web'] });
    const changes = await detectChanges(event, new Git(NO_REPOSITORY));
    expect(changes).toEqual({
      all: false,
      paths: [],
      how: 'images requested by name: api, web',
      head: 'b'.repeat(40),
    });
  });
});

describe('local runs', () => {
  test('--since REF is a plain diff REF..HEAD', async () => {
    const { repo, api, docs } = await linearHistory();
    await repo.git('tag', 'v1', api);
    const git = new Git(repo.dir);
    const event = readLocalEvent({ sha: await git.headSha(), branch: 'main', since: 'v1' });
    expect(await detectChanges(event, git)).toEqual({
      all: false,
      paths: ['README.md', 'images/web/index.html'],
      how: `git diff ${short(api)}..${short(docs)} (local)`,
      base: api,
      head: docs,
    });
  });

  test('--since with an unknown ref is the user’s mistake', async () => {
    const { repo, docs } = await linearHistory();
    const event = readLocalEvent({ sha: docs, since: 'no-such-ref' });
    await expect(detectChanges(event, new Git(repo.dir))).rejects.toThrow(EventError);
    await expect(detectChanges(event, new Git(repo.dir))).rejects.toThrow(
      '--since no-such-ref: no such commit, branch or tag in this repository',
    );
  });
});

describe('githubCompare against a local stand-in for the GitHub API', () => {
  interface Served {
    baseUrl: string;
    requests: string[];
    close: () => Promise<void>;
  }

  /** Serves compare responses: `pages[n]` is the file list of page n + 1. */
  async function serve(
    pages: { filename: string; previous_filename?: string }[][],
  ): Promise<Served> {
    const requests: string[] = [];
    const server = createServer((request, response) => {
      requests.push(request.url ?? '');
      const url = new URL(request.url ?? '/', 'http://localhost');
      const page = Number(url.searchParams.get('page') ?? '1');
      const files = (pages[page - 1] ?? []).map((file) => ({ status: 'modified', ...file }));
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ status: 'ahead', total_commits: 1, commits: [], files }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    return {
      baseUrl: `http://127.0.0.1:${port}`,
      requests,
      close: () => new Promise((resolve) => server.close(() => resolve())),
    };
  }

  const many = (count: number, prefix: string) =>
    Array.from({ length: count }, (_, i) => ({ filename: `${prefix}/${i}` }));

  test('one short page: complete, renames count both paths', async () => {
    const served = await serve([
      [{ filename: 'b/new', previous_filename: 'a/old' }, { filename: 'c' }],
    ]);
    try {
      const compare = githubCompare(
        getOctokit('token', { baseUrl: served.baseUrl }),
        'acme',
        'images',
      );
      expect(await compare('1111111', 'feature')).toEqual({
        files: ['a/old', 'b/new', 'c'],
        truncated: false,
      });
      expect(served.requests).toEqual([
        '/repos/acme/images/compare/1111111...feature?page=1&per_page=100',
      ]);
    } finally {
      await served.close();
    }
  });

  test('files spread over pages are gathered', async () => {
    const served = await serve([many(300, 'p1'), many(20, 'p2')]);
    try {
      const compare = githubCompare(
        getOctokit('token', { baseUrl: served.baseUrl }),
        'acme',
        'images',
      );
      const result = await compare('a', 'b');
      expect(result.files).toHaveLength(320);
      expect(result.truncated).toBe(false);
    } finally {
      await served.close();
    }
  });

  test('a full first page and nothing after: maybe more, so truncated', async () => {
    const served = await serve([many(300, 'p1')]);
    try {
      const compare = githubCompare(
        getOctokit('token', { baseUrl: served.baseUrl }),
        'acme',
        'images',
      );
      const result = await compare('a', 'b');
      expect(result).toMatchObject({ truncated: true });
      expect(result.files).toHaveLength(300);
    } finally {
      await served.close();
    }
  });

  test('3000 files is the most GitHub lists: truncated', async () => {
    const served = await serve(Array.from({ length: 11 }, (_, i) => many(300, `p${i}`)));
    try {
      const compare = githubCompare(
        getOctokit('token', { baseUrl: served.baseUrl }),
        'acme',
        'images',
      );
      const result = await compare('a', 'b');
      expect(result.truncated).toBe(true);
      expect(result.files).toHaveLength(3000);
      expect(served.requests).toHaveLength(10);
    } finally {
      await served.close();
    }
  });

  test('an API error reaches detectChanges as a reason', async () => {
    const server = createServer((_request, response) => {
      response.writeHead(404, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ message: 'Not Found' }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const { remote, docs } = await linearHistory();
      const clone = await cloneRemote(remote);
      const compare = githubCompare(
        getOctokit('token', { baseUrl: `http://127.0.0.1:${port}`, request: { retries: 0 } }),
        'acme',
        'images',
      );
      const gone = 'd'.repeat(40);
      const changes = await detectChanges(githubPush('main', gone, docs), new Git(clone.dir), {
        compare,
      });
      expect(changes).toMatchObject({ all: true });
      if (changes.all) {
        expect(changes.reason).toMatch(
          new RegExp(
            `^all: before commit ${short(gone)} is not in the history \\(force push\\?\\) and the compare API failed: .*Not Found`,
          ),
        );
      }
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
