import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

import { readGithubEvent, readGitlabEvent, readLocalEvent } from '../../src/core/ci-event.js';
import { EventError } from '../../src/core/errors.js';
import type { CiEvent } from '../../src/core/types.js';

type Env = Record<string, string | undefined>;

/** Fields set to undefined in `expected` must be absent from the event. */
function expectEvent(event: CiEvent, expected: Partial<CiEvent> & Record<string, unknown>): void {
  const present = Object.fromEntries(
    Object.entries(expected).filter(([, value]) => value !== undefined),
  );
  expect(event).toMatchObject(present);
  for (const [key, value] of Object.entries(expected)) {
    if (value === undefined) expect(event).not.toHaveProperty(key);
  }
}

function fixture(name: string): Record<string, unknown> {
  const url = new URL(`../fixtures/events/${name}`, import.meta.url);
  return JSON.parse(readFileSync(url, 'utf8')) as Record<string, unknown>;
}

const SHA_A = 'a'.repeat(40);
const SHA_B = 'b'.repeat(40);
const SHA_C = 'c'.repeat(40);
const ZERO = '0'.repeat(40);

/** The variables a GitHub runner sets for an event. */
function githubEnv(eventName: string, extra: Env = {}): Env {
  return {
    GITHUB_ACTIONS: 'true',
    GITHUB_EVENT_NAME: eventName,
    GITHUB_ACTOR: 'octocat',
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_REPOSITORY: 'octo-org/octo-repo',
    ...extra,
  };
}

describe('readGithubEvent with real payloads', () => {
  const cases: [string, string, Env, Record<string, unknown>, Partial<CiEvent>][] = [
    [
      'first push of a branch (all-zero before)',
      'push',
      { GITHUB_SHA: '6113728f27ae82c7b1a177c8d03f9e96e0adf246', GITHUB_REF: 'refs/heads/master' },
      fixture('push-branch-created.json'),
      {
        kind: 'push',
        sourceEvent: 'push',
        refName: 'master',
        refType: 'branch',
        sha: '6113728f27ae82c7b1a177c8d03f9e96e0adf246',
        before: undefined,
        defaultBranch: 'master',
      },
    ],
    [
      'push with a previous commit',
      'push',
      { GITHUB_SHA: '6113728f27ae82c7b1a177c8d03f9e96e0adf246', GITHUB_REF: 'refs/heads/master' },
      { ...fixture('push-branch-created.json'), before: SHA_A, created: false },
      { kind: 'push', before: SHA_A, sha: '6113728f27ae82c7b1a177c8d03f9e96e0adf246' },
    ],
    [
      'tag push',
      'push',
      { GITHUB_REF: 'refs/tags/simple-tag', GITHUB_REF_TYPE: 'tag' },
      fixture('push-tag-created.json'),
      {
        kind: 'tag',
        refName: 'simple-tag',
        refType: 'tag',
        sha: '6113728f27ae82c7b1a177c8d03f9e96e0adf246',
        before: undefined,
      },
    ],
    [
      'pull request opened: the head commit, not the merge commit',
      'pull_request',
      { GITHUB_SHA: SHA_C, GITHUB_REF: 'refs/pull/2/merge', GITHUB_HEAD_REF: 'changes' },
      fixture('pull_request-opened.json'),
      {
        kind: 'pull_request',
        sourceEvent: 'pull_request',
        sha: 'ec26c3e57ca3a959ca5aad62de7213c562f8c821',
        refName: 'changes',
        refType: 'branch',
        baseSha: 'f95f852bd8fca8fcc58a9a2d6c842781e32a215e',
        baseRef: 'master',
        before: undefined,
      },
    ],
    [
      'pull request synchronize',
      'pull_request',
      { GITHUB_SHA: SHA_C, GITHUB_REF: 'refs/pull/2/merge' },
      fixture('pull_request-synchronize.json'),
      {
        kind: 'pull_request',
        sha: 'ec26c3e57ca3a959ca5aad62de7213c562f8c821',
        baseSha: 'f95f852bd8fca8fcc58a9a2d6c842781e32a215e',
      },
    ],
    [
      'pull_request_target reads the same fields',
      'pull_request_target',
      { GITHUB_SHA: SHA_C, GITHUB_REF: 'refs/heads/master' },
      fixture('pull_request-opened.json'),
      {
        kind: 'pull_request',
        sourceEvent: 'pull_request_target',
        sha: 'ec26c3e57ca3a959ca5aad62de7213c562f8c821',
        refName: 'changes',
      },
    ],
    [
      'merge queue',
      'merge_group',
      {
        GITHUB_SHA: '2ffea6db159f6b6c47a24e778fb9ef40cf6b1c7d',
        GITHUB_REF:
          'refs/heads/gh-readonly-queue/main/pr-104-929f8209d40f77f4abc622a499c93a83babdbe64',
        GITHUB_REF_NAME: 'gh-readonly-queue/main/pr-104-929f8209d40f77f4abc622a499c93a83babdbe64',
      },
      fixture('merge_group-checks_requested.json'),
      {
        kind: 'merge_group',
        sha: '2ffea6db159f6b6c47a24e778fb9ef40cf6b1c7d',
        refName: 'gh-readonly-queue/main/pr-104-929f8209d40f77f4abc622a499c93a83babdbe64',
        baseSha: '380387fbc80638b734a49e1be1c4dfec1c01b33c',
        baseRef: 'main',
        defaultBranch: 'main',
      },
    ],
    [
      'manual run',
      'workflow_dispatch',
      { GITHUB_SHA: SHA_A, GITHUB_REF: 'refs/heads/main', GITHUB_REF_NAME: 'main' },
      fixture('workflow_dispatch.json'),
      { kind: 'manual', all: true, sha: SHA_A, refName: 'main', refType: 'branch' },
    ],
    [
      'repository dispatch',
      'repository_dispatch',
      { GITHUB_SHA: SHA_A, GITHUB_REF: 'refs/heads/master' },
      fixture('repository_dispatch.json'),
      { kind: 'manual', all: true, sha: SHA_A, refName: 'master', defaultBranch: 'master' },
    ],
    [
      'scheduled run',
      'schedule',
      { GITHUB_SHA: SHA_B, GITHUB_REF: 'refs/heads/main' },
      { schedule: '17 3 * * *' },
      { kind: 'schedule', all: true, sha: SHA_B, refName: 'main' },
    ],
    [
      'an event this tool does not know builds everything',
      'release',
      { GITHUB_SHA: SHA_B, GITHUB_REF: 'refs/tags/v1.2.0', GITHUB_REF_TYPE: 'tag' },
      { action: 'published' },
      { kind: 'manual', all: true, refName: 'v1.2.0', refType: 'tag' },
    ],
  ];

  test.each(cases)('%s', (_title, eventName, env, payload, expected) => {
    expectEvent(readGithubEvent(githubEnv(eventName, env), payload), {
      platform: 'github',
      ...expected,
    });
  });

  test('common fields: actor, repository url and slug', () => {
    const event = readGithubEvent(
      githubEnv('push', { GITHUB_SERVER_URL: 'https://ghe.example.com/' }),
      fixture('push-branch-created.json'),
    );
    expect(event).toMatchObject({
      actor: 'octocat',
      repositorySlug: 'octo-org/octo-repo',
      repositoryUrl: 'https://ghe.example.com/octo-org/octo-repo',
    });
  });

  test('without GITHUB_* variables the payload fills actor and repository', () => {
    const event = readGithubEvent(
      { GITHUB_EVENT_NAME: 'push' },
      fixture('push-branch-created.json'),
    );
    expect(event).toMatchObject({
      actor: 'Codertocat',
      repositorySlug: 'Codertocat/Hello-World',
      repositoryUrl: 'https://github.com/Codertocat/Hello-World',
    });
  });

  test('the images input turns a manual run into a request by name', () => {
    const event = readGithubEvent(
      githubEnv('workflow_dispatch', { GITHUB_SHA: SHA_A, GITHUB_REF: 'refs/heads/main' }),
      fixture('workflow_dispatch.json'),
      { images: ['api', ' worker ', '', 'api'] },
    );
    expect(event.requestedImages).toEqual(['api', 'worker']);
    expect(event).not.toHaveProperty('all');
  });

  test('an empty images input is no request', () => {
    const event = readGithubEvent(
      githubEnv('workflow_dispatch', { GITHUB_SHA: SHA_A, GITHUB_REF: 'refs/heads/main' }),
      fixture('workflow_dispatch.json'),
      { images: [] },
    );
    expect(event.all).toBe(true);
    expect(event).not.toHaveProperty('requestedImages');
  });

  test('the event is plain JSON', () => {
    const event = readGithubEvent(githubEnv('pull_request'), fixture('pull_request-opened.json'));
    expect(JSON.parse(JSON.stringify(event))).toEqual(event);
  });
});

describe('readGithubEvent over every example of @octokit/webhooks-examples', () => {
  const require = createRequire(import.meta.url);
  const all = require('@octokit/webhooks-examples') as {
    name: string;
    examples: Record<string, unknown>[];
  }[];
  const examples = (name: string) => all.find((entry) => entry.name === name)?.examples ?? [];

  test.each(['pull_request', 'merge_group'])('every %s example reads', (name) => {
    expect(examples(name).length).toBeGreaterThan(0);
    for (const payload of examples(name)) {
      const event = readGithubEvent(githubEnv(name, { GITHUB_SHA: SHA_A }), payload);
      expect(event.sha).toMatch(/^[0-9a-f]{40}$/);
      expect(event.baseSha).toMatch(/^[0-9a-f]{40}$/);
    }
  });

  test('every push example reads, or says it deletes the ref', () => {
    for (const payload of examples('push')) {
      if (payload.deleted === true) {
        expect(() => readGithubEvent(githubEnv('push'), payload)).toThrow(/deletes refs\//);
      } else {
        expect(readGithubEvent(githubEnv('push'), payload).sha).toBe(payload.after);
      }
    }
  });
});

describe('readGithubEvent rejects what it cannot read', () => {
  const pr = fixture('pull_request-opened.json');
  const prWithout = (part: 'head' | 'base', key: string) => {
    const pullRequest = pr.pull_request as Record<string, Record<string, unknown>>;
    return {
      ...pr,
      pull_request: { ...pullRequest, [part]: { ...pullRequest[part], [key]: undefined } },
    };
  };
  const mergeGroup = fixture('merge_group-checks_requested.json');

  const cases: [string, Env, unknown, string | RegExp][] = [
    ['no event name', {}, {}, /GITHUB_EVENT_NAME is not set/],
    [
      'a payload that is not an object',
      githubEnv('push'),
      [],
      'push event payload is not a JSON object',
    ],
    [
      'a push without after',
      githubEnv('push'),
      { ...fixture('push-branch-created.json'), after: undefined },
      'push event payload has no "after"',
    ],
    [
      'a push without ref',
      githubEnv('push'),
      { ...fixture('push-branch-created.json'), ref: undefined },
      'push event payload has no "ref"',
    ],
    [
      'a push with a short after',
      githubEnv('push'),
      { ...fixture('push-branch-created.json'), after: '6113728' },
      'push event payload has an invalid "after": "6113728" is not a full commit sha',
    ],
    [
      'a push with a bad before',
      githubEnv('push'),
      { ...fixture('push-branch-created.json'), before: 'HEAD~1' },
      /invalid "before"/,
    ],
    [
      'a push that deletes a tag',
      githubEnv('push'),
      fixture('push-tag-deleted.json'),
      /push event deletes refs\/tags\/simple-tag \("after" is all zeros\): there is nothing to build/,
    ],
    [
      'a pull request without pull_request',
      githubEnv('pull_request'),
      { action: 'opened' },
      'pull_request event payload has no "pull_request"',
    ],
    [
      'a pull request without head sha',
      githubEnv('pull_request'),
      prWithout('head', 'sha'),
      'pull_request event payload has no "pull_request.head.sha"',
    ],
    [
      'a pull request without base sha',
      githubEnv('pull_request_target'),
      prWithout('base', 'sha'),
      'pull_request_target event payload has no "pull_request.base.sha"',
    ],
    [
      'a pull request without head ref',
      githubEnv('pull_request'),
      prWithout('head', 'ref'),
      'pull_request event payload has no "pull_request.head.ref"',
    ],
    [
      'a merge group without base sha',
      githubEnv('merge_group'),
      {
        ...mergeGroup,
        merge_group: { ...(mergeGroup.merge_group as object), base_sha: undefined },
      },
      'merge_group event payload has no "merge_group.base_sha"',
    ],
    [
      'a merge group without head sha',
      githubEnv('merge_group'),
      { ...mergeGroup, merge_group: { ...(mergeGroup.merge_group as object), head_sha: 42 } },
      'merge_group event payload has no "merge_group.head_sha"',
    ],
    [
      'a manual run without GITHUB_SHA',
      githubEnv('workflow_dispatch', { GITHUB_REF: 'refs/heads/main' }),
      fixture('workflow_dispatch.json'),
      'workflow_dispatch event has no commit: GITHUB_SHA is not set',
    ],
    [
      'a scheduled run without GITHUB_REF',
      githubEnv('schedule', { GITHUB_SHA: SHA_A }),
      { schedule: '* * * * *' },
      'schedule event has no ref: GITHUB_REF is not set',
    ],
  ];

  test.each(cases)('%s', (_title, env, payload, message) => {
    let error: unknown;
    try {
      readGithubEvent(env, payload);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(EventError);
    if (typeof message === 'string') expect((error as Error).message).toBe(message);
    else expect((error as Error).message).toMatch(message);
  });
});

describe('readGitlabEvent', () => {
  const base: Env = {
    GITLAB_CI: 'true',
    CI_COMMIT_SHA: SHA_B,
    CI_DEFAULT_BRANCH: 'main',
    GITLAB_USER_LOGIN: 'jane',
    CI_PROJECT_URL: 'https://gitlab.example.com/group/docker-images',
  };

  const cases: [string, Env, Partial<CiEvent>][] = [
    [
      'push to a branch',
      {
        CI_PIPELINE_SOURCE: 'push',
        CI_COMMIT_BEFORE_SHA: SHA_A,
        CI_COMMIT_REF_NAME: 'feature/x',
        CI_COMMIT_BRANCH: 'feature/x',
      },
      { kind: 'push', refName: 'feature/x', refType: 'branch', sha: SHA_B, before: SHA_A },
    ],
    [
      'first push of a new branch (zero before)',
      {
        CI_PIPELINE_SOURCE: 'push',
        CI_COMMIT_BEFORE_SHA: ZERO,
        CI_COMMIT_REF_NAME: 'feature/y',
        CI_COMMIT_BRANCH: 'feature/y',
      },
      { kind: 'push', refName: 'feature/y', before: undefined, defaultBranch: 'main' },
    ],
    [
      'tag pipeline',
      {
        CI_PIPELINE_SOURCE: 'push',
        CI_COMMIT_BEFORE_SHA: ZERO,
        CI_COMMIT_REF_NAME: 'v1.2.0',
        CI_COMMIT_TAG: 'v1.2.0',
      },
      { kind: 'tag', refName: 'v1.2.0', refType: 'tag', before: undefined },
    ],
    [
      'merge request pipeline',
      {
        CI_PIPELINE_SOURCE: 'merge_request_event',
        CI_COMMIT_BEFORE_SHA: ZERO,
        CI_COMMIT_REF_NAME: 'feature/x',
        CI_MERGE_REQUEST_DIFF_BASE_SHA: SHA_A,
        CI_MERGE_REQUEST_SOURCE_BRANCH_NAME: 'feature/x',
        CI_MERGE_REQUEST_TARGET_BRANCH_NAME: 'main',
        CI_MERGE_REQUEST_EVENT_TYPE: 'detached',
      },
      {
        kind: 'pull_request',
        sourceEvent: 'merge_request_event',
        refName: 'feature/x',
        baseSha: SHA_A,
        baseRef: 'main',
        before: undefined,
      },
    ],
    [
      'merged results pipeline compares with the target head',
      {
        CI_PIPELINE_SOURCE: 'merge_request_event',
        CI_COMMIT_REF_NAME: 'feature/x',
        CI_MERGE_REQUEST_DIFF_BASE_SHA: SHA_A,
        CI_MERGE_REQUEST_TARGET_BRANCH_SHA: SHA_C,
        CI_MERGE_REQUEST_SOURCE_BRANCH_NAME: 'feature/x',
        CI_MERGE_REQUEST_TARGET_BRANCH_NAME: 'main',
        CI_MERGE_REQUEST_EVENT_TYPE: 'merged_result',
      },
      { kind: 'pull_request', baseSha: SHA_C, sha: SHA_B },
    ],
    [
      'merge train',
      {
        CI_PIPELINE_SOURCE: 'merge_request_event',
        CI_MERGE_REQUEST_DIFF_BASE_SHA: SHA_A,
        CI_MERGE_REQUEST_TARGET_BRANCH_SHA: SHA_C,
        CI_MERGE_REQUEST_SOURCE_BRANCH_NAME: 'feature/x',
        CI_MERGE_REQUEST_TARGET_BRANCH_NAME: 'main',
        CI_MERGE_REQUEST_EVENT_TYPE: 'merge_train',
      },
      { kind: 'merge_group', baseSha: SHA_C, baseRef: 'main' },
    ],
    [
      'external pull request',
      {
        CI_PIPELINE_SOURCE: 'external_pull_request_event',
        CI_EXTERNAL_PULL_REQUEST_SOURCE_BRANCH_NAME: 'feature/z',
        CI_EXTERNAL_PULL_REQUEST_TARGET_BRANCH_NAME: 'main',
        CI_EXTERNAL_PULL_REQUEST_TARGET_BRANCH_SHA: SHA_A,
      },
      { kind: 'pull_request', refName: 'feature/z', baseSha: SHA_A, baseRef: 'main' },
    ],
    [
      'scheduled pipeline',
      {
        CI_PIPELINE_SOURCE: 'schedule',
        CI_COMMIT_BEFORE_SHA: ZERO,
        CI_COMMIT_REF_NAME: 'main',
        CI_COMMIT_BRANCH: 'main',
      },
      { kind: 'schedule', all: true, refName: 'main' },
    ],
    [
      'Run pipeline from the web',
      {
        CI_PIPELINE_SOURCE: 'web',
        CI_COMMIT_BEFORE_SHA: ZERO,
        CI_COMMIT_REF_NAME: 'main',
        CI_COMMIT_BRANCH: 'main',
      },
      { kind: 'manual', sourceEvent: 'web', all: true },
    ],
    [
      'API trigger on a tag',
      { CI_PIPELINE_SOURCE: 'trigger', CI_COMMIT_REF_NAME: 'v2', CI_COMMIT_TAG: 'v2' },
      { kind: 'manual', all: true, refName: 'v2', refType: 'tag' },
    ],
    [
      'child pipeline',
      { CI_PIPELINE_SOURCE: 'parent_pipeline', CI_COMMIT_REF_NAME: 'main' },
      { kind: 'manual', sourceEvent: 'parent_pipeline', all: true },
    ],
  ];

  test.each(cases)('%s', (_title, env, expected) => {
    const event = readGitlabEvent({ ...base, ...env });
    expectEvent(event, {
      platform: 'gitlab',
      sha: SHA_B,
      actor: 'jane',
      repositoryUrl: 'https://gitlab.example.com/group/docker-images',
      ...expected,
    });
    expect(event).not.toHaveProperty('repositorySlug');
  });

  test('images asked for by name replace "all"', () => {
    const event = readGitlabEvent(
      { ...base, CI_PIPELINE_SOURCE: 'web', CI_COMMIT_REF_NAME: 'main' },
      { images: ['api'] },
    );
    expect(event.requestedImages).toEqual(['api']);
    expect(event).not.toHaveProperty('all');
  });

  test.each([
    ['no pipeline source', { CI_COMMIT_SHA: SHA_A }, /CI_PIPELINE_SOURCE is not set/],
    ['no commit', { CI_PIPELINE_SOURCE: 'push' }, 'GitLab push pipeline has no CI_COMMIT_SHA'],
    [
      'a bad commit',
      { CI_PIPELINE_SOURCE: 'push', CI_COMMIT_SHA: 'main', CI_COMMIT_REF_NAME: 'main' },
      'GitLab push pipeline has an invalid CI_COMMIT_SHA: "main"',
    ],
    [
      'no ref',
      { CI_PIPELINE_SOURCE: 'push', CI_COMMIT_SHA: SHA_A },
      'GitLab push pipeline has no CI_COMMIT_REF_NAME',
    ],
    [
      'a merge request without its diff base',
      {
        CI_PIPELINE_SOURCE: 'merge_request_event',
        CI_COMMIT_SHA: SHA_A,
        CI_MERGE_REQUEST_SOURCE_BRANCH_NAME: 'x',
      },
      'GitLab merge_request_event pipeline has no CI_MERGE_REQUEST_DIFF_BASE_SHA',
    ],
    [
      'a merge request without its source branch',
      {
        CI_PIPELINE_SOURCE: 'merge_request_event',
        CI_COMMIT_SHA: SHA_A,
        CI_MERGE_REQUEST_DIFF_BASE_SHA: SHA_B,
      },
      'GitLab merge_request_event pipeline has no CI_MERGE_REQUEST_SOURCE_BRANCH_NAME',
    ],
  ] as [string, Env, string | RegExp][])('%s is an EventError', (_title, env, message) => {
    expect(() => readGitlabEvent(env)).toThrow(EventError);
    expect(() => readGitlabEvent(env)).toThrow(message);
  });
});

describe('readLocalEvent', () => {
  test.each([
    [
      'on a branch',
      { sha: SHA_A, branch: 'feature', defaultBranch: 'main', actor: 'me' },
      {
        kind: 'local',
        refName: 'feature',
        refType: 'branch',
        sha: SHA_A,
        defaultBranch: 'main',
        actor: 'me',
      },
    ],
    ['detached HEAD names the commit', { sha: SHA_A }, { refName: SHA_A, refType: 'branch' }],
    [
      'a tag wins over the branch',
      { sha: SHA_A, branch: 'main', tag: 'v1' },
      { refName: 'v1', refType: 'tag' },
    ],
    ['--since', { sha: SHA_A, branch: 'feature', since: 'origin/main' }, { before: 'origin/main' }],
    ['--all', { sha: SHA_A, all: true }, { all: true }],
    ['--images', { sha: SHA_A, images: ['api', 'web'] }, { requestedImages: ['api', 'web'] }],
    ['uppercase sha is normalised', { sha: SHA_A.toUpperCase() }, { sha: SHA_A }],
  ] as [string, Parameters<typeof readLocalEvent>[0], Partial<CiEvent>][])(
    '%s',
    (_title, options, expected) => {
      expect(readLocalEvent(options)).toMatchObject({
        platform: 'local',
        kind: 'local',
        sourceEvent: 'local',
        ...expected,
      });
    },
  );

  test('a short sha is refused', () => {
    expect(() => readLocalEvent({ sha: 'abc1234' })).toThrow(EventError);
  });

  test('a --since that looks like an option is refused', () => {
    expect(() => readLocalEvent({ sha: SHA_A, since: '--output=x' })).toThrow(
      /--since "--output=x": a revision cannot start with "-"/,
    );
  });
});
