import { changeStrategy, parseChangedFilesList } from '../../src/core/change-strategy.js';
import type { Strategy } from '../../src/core/change-strategy.js';
import { readGithubEvent, readGitlabEvent, readLocalEvent } from '../../src/core/ci-event.js';
import type { CiEvent } from '../../src/core/types.js';

const BEFORE = '1111111111111111111111111111111111111111';
const AFTER = '2222222222222222222222222222222222222222';
const BASE = '3333333333333333333333333333333333333333';

function event(fields: Partial<CiEvent>): CiEvent {
  return {
    platform: 'github',
    kind: 'push',
    sourceEvent: 'push',
    refName: 'main',
    refType: 'branch',
    sha: AFTER,
    defaultBranch: 'main',
    ...fields,
  };
}

describe('changeStrategy', () => {
  const cases: [string, CiEvent, Strategy][] = [
    [
      'push: before..after',
      event({ before: BEFORE }),
      { type: 'diff', from: BEFORE, to: AFTER, why: 'push 1111111..2222222 (push)' },
    ],
    [
      'new branch: merge base with the default branch',
      event({ refName: 'feature/x' }),
      {
        type: 'merge-base',
        base: 'origin/main',
        head: AFTER,
        why: 'new branch feature/x, compared with main (push)',
      },
    ],
    [
      'first push of the default branch',
      event({}),
      { type: 'all', reason: 'all: first push of the default branch main (no previous commit)' },
    ],
    [
      'new branch with no known default branch',
      event({ refName: 'feature/x', defaultBranch: undefined }),
      {
        type: 'all',
        reason: 'all: push of feature/x has no previous commit and the default branch is unknown',
      },
    ],
    [
      'tag push',
      event({ kind: 'tag', refName: 'v1.2.0', refType: 'tag' }),
      { type: 'all', reason: 'all: tag push v1.2.0' },
    ],
    [
      'tag push with a before commit still builds everything',
      event({ kind: 'tag', refName: 'v1.2.0', refType: 'tag', before: BEFORE }),
      { type: 'all', reason: 'all: tag push v1.2.0' },
    ],
    [
      'pull request: merge base with the base commit',
      event({
        kind: 'pull_request',
        sourceEvent: 'pull_request',
        refName: 'feature/x',
        baseSha: BASE,
        baseRef: 'main',
      }),
      {
        type: 'merge-base',
        base: BASE,
        head: AFTER,
        why: 'pull request into main (pull_request)',
      },
    ],
    [
      'pull request without base sha falls back to the base branch',
      event({ kind: 'pull_request', sourceEvent: 'pull_request', baseRef: 'develop' }),
      {
        type: 'merge-base',
        base: 'origin/develop',
        head: AFTER,
        why: 'pull request into develop (pull_request)',
      },
    ],
    [
      'pull request with no base at all',
      event({ kind: 'pull_request', sourceEvent: 'pull_request' }),
      { type: 'all', reason: 'all: pull_request event names no base commit or branch' },
    ],
    [
      'merge queue',
      event({ kind: 'merge_group', sourceEvent: 'merge_group', baseSha: BASE, baseRef: 'main' }),
      { type: 'merge-base', base: BASE, head: AFTER, why: 'merge queue into main (merge_group)' },
    ],
    [
      'schedule',
      event({ kind: 'schedule', sourceEvent: 'schedule', all: true }),
      { type: 'all', reason: 'all: scheduled run (schedule)' },
    ],
    [
      'manual run',
      event({ kind: 'manual', sourceEvent: 'workflow_dispatch', all: true }),
      { type: 'all', reason: 'all: manual run (workflow_dispatch) without requested images' },
    ],
    [
      'manual run with images',
      event({ kind: 'manual', sourceEvent: 'workflow_dispatch', requestedImages: ['api', 'db'] }),
      { type: 'requested', images: ['api', 'db'], why: 'images requested by name: api, db' },
    ],
    [
      'images asked for by name win over a push diff',
      event({ before: BEFORE, requestedImages: ['api'] }),
      { type: 'requested', images: ['api'], why: 'images requested by name: api' },
    ],
    [
      'an explicit all wins over a push diff',
      event({ before: BEFORE, all: true }),
      { type: 'all', reason: 'all: push event asks for every image' },
    ],
    [
      'local --since is a plain diff',
      event({ platform: 'local', kind: 'local', sourceEvent: 'local', before: 'origin/main' }),
      { type: 'diff', from: 'origin/main', to: AFTER, why: '--since origin/main' },
    ],
    [
      'local --all',
      event({ platform: 'local', kind: 'local', sourceEvent: 'local', all: true }),
      { type: 'all', reason: 'all: --all given' },
    ],
    [
      'local without anything',
      event({ platform: 'local', kind: 'local', sourceEvent: 'local' }),
      { type: 'all', reason: 'all: local run without --since, --changed-files or --images' },
    ],
  ];

  test.each(cases)('%s', (_title, input, expected) => {
    expect(changeStrategy(input)).toEqual(expected);
  });

  describe('from read events', () => {
    const gitlab = {
      CI_COMMIT_SHA: AFTER,
      CI_DEFAULT_BRANCH: 'main',
    };

    test.each([
      [
        'GitLab push',
        readGitlabEvent({
          ...gitlab,
          CI_PIPELINE_SOURCE: 'push',
          CI_COMMIT_BEFORE_SHA: BEFORE,
          CI_COMMIT_BRANCH: 'main',
        }),
        { type: 'diff', from: BEFORE, to: AFTER },
      ],
      [
        'GitLab new branch',
        readGitlabEvent({
          ...gitlab,
          CI_PIPELINE_SOURCE: 'push',
          CI_COMMIT_BEFORE_SHA: '0'.repeat(40),
          CI_COMMIT_BRANCH: 'feature',
        }),
        { type: 'merge-base', base: 'origin/main', head: AFTER },
      ],
      [
        'GitLab merge request',
        readGitlabEvent({
          ...gitlab,
          CI_PIPELINE_SOURCE: 'merge_request_event',
          CI_MERGE_REQUEST_DIFF_BASE_SHA: BASE,
          CI_MERGE_REQUEST_SOURCE_BRANCH_NAME: 'feature',
          CI_MERGE_REQUEST_TARGET_BRANCH_NAME: 'main',
        }),
        {
          type: 'merge-base',
          base: BASE,
          head: AFTER,
          why: 'pull request into main (merge_request_event)',
        },
      ],
      [
        'GitLab tag',
        readGitlabEvent({
          ...gitlab,
          CI_PIPELINE_SOURCE: 'push',
          CI_COMMIT_TAG: 'v1.2.0',
        }),
        { type: 'all', reason: 'all: tag push v1.2.0' },
      ],
      [
        'GitLab schedule',
        readGitlabEvent({ ...gitlab, CI_PIPELINE_SOURCE: 'schedule', CI_COMMIT_BRANCH: 'main' }),
        { type: 'all', reason: 'all: scheduled run (schedule)' },
      ],
      [
        'GitLab web',
        readGitlabEvent({ ...gitlab, CI_PIPELINE_SOURCE: 'web', CI_COMMIT_BRANCH: 'main' }),
        { type: 'all', reason: 'all: manual run (web) without requested images' },
      ],
      [
        'GitHub push of a new branch',
        readGithubEvent(
          { GITHUB_EVENT_NAME: 'push' },
          {
            ref: 'refs/heads/feature',
            before: '0'.repeat(40),
            after: AFTER,
            repository: { default_branch: 'main' },
          },
        ),
        { type: 'merge-base', base: 'origin/main', head: AFTER },
      ],
      [
        'local --since',
        readLocalEvent({ sha: AFTER, since: 'v1.0.0' }),
        { type: 'diff', from: 'v1.0.0', to: AFTER },
      ],
    ] as [string, CiEvent, Partial<Strategy>][])('%s', (_title, input, expected) => {
      expect(changeStrategy(input)).toMatchObject(expected);
    });
  });

  test('every strategy says why', () => {
    for (const [, input] of cases) {
      const strategy = changeStrategy(input);
      const text = strategy.type === 'all' ? strategy.reason : strategy.why;
      expect(text.length).toBeGreaterThan(5);
    }
  });
});

describe('parseChangedFilesList', () => {
  test.each([
    ['one path a line', 'a/Dockerfile\nb/app.py\n', ['a/Dockerfile', 'b/app.py']],
    ['CRLF lines', 'a\r\nb\r\n', ['a', 'b']],
    ['blank lines and ./ prefixes', '\n./a/x\n\n  \n././b\n', ['a/x', 'b']],
    ['duplicates once', 'a\na\n./a\n', ['a']],
    [
      'NUL-separated keeps newlines and spaces in names',
      'odd\nname\0with space\0',
      ['odd\nname', 'with space'],
    ],
    ['unicode', 'images/café/Dockerfile\n', ['images/café/Dockerfile']],
    ['empty', '', []],
  ])('%s', (_title, text, expected) => {
    expect(parseChangedFilesList(text)).toEqual(expected);
  });
});
