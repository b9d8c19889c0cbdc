import { NameError } from '../../src/core/errors.js';
import { computeTags, isDefaultBranchBuild, refSlug } from '../../src/core/tags.js';
import type { CiEvent } from '../../src/core/types.js';

const SHA = '54b820607719a2ba8434cfb7b297cebfe5646ab5';
const NOW = new Date(Date.UTC(2026, 10, 21, 9, 5, 7));

function event(overrides: Partial<CiEvent>): CiEvent {
  return {
    platform: 'github',
    kind: 'push',
    sourceEvent: 'push',
    refName: 'main',
    refType: 'branch',
    sha: SHA,
    defaultBranch: 'main',
    ...overrides,
  };
}

describe('refSlug follows CI_COMMIT_REF_SLUG', () => {
  test.each([
    // GitLab's published examples (spec/lib/gitlab/utils_spec.rb, slugify)
    ['fix/1-foo', 'fix-1-foo'],
    ['FOO', 'foo'],
    ['project_with_underscores', 'project-with-underscores'],
    ['a'.repeat(64), 'a'.repeat(63)],
    [`-${'a'.repeat(63)}-`, 'a'.repeat(62)],
    ['test_trailing_', 'test-trailing'],
    ['staging', 'staging'],
    ['feature/x--y', 'feature-x--y'],
    ['v1.2.3', 'v1-2-3'],
    ['héllo wörld', 'h-llo-w-rld'],
    ['a#b;c$(d)', 'a-b-c--d'],
    ['---', ''],
    [`${'a'.repeat(62)}/b`, 'a'.repeat(62)],
  ])('%s -> %s', (ref, slug) => {
    expect(refSlug(ref)).toBe(slug);
  });
});

describe('isDefaultBranchBuild', () => {
  test.each<[string, Partial<CiEvent>, boolean]>([
    ['push to the default branch', {}, true],
    ['push to another branch', { refName: 'feature' }, false],
    ['pull request from the default branch name', { kind: 'pull_request' }, false],
    ['merge queue', { kind: 'merge_group' }, false],
    ['tag named like the branch', { refType: 'tag' }, false],
    ['default branch unknown', { defaultBranch: undefined }, false],
    ['scheduled run on the default branch', { kind: 'schedule' }, true],
  ])('%s', (_what, overrides, expected) => {
    expect(isDefaultBranchBuild(event(overrides))).toBe(expected);
  });
});

describe('computeTags', () => {
  const context = (overrides: Partial<CiEvent> = {}) => ({
    event: event(overrides),
    shaShortLength: 7,
    now: NOW,
  });

  test.each<[string, string[], Partial<CiEvent>, string[]]>([
    [
      'default rules on the default branch',
      ['sha', 'ref-slug', 'latest'],
      {},
      [SHA, 'main', 'latest'],
    ],
    [
      'default rules on a feature branch',
      ['sha', 'ref-slug', 'latest'],
      { refName: 'My/Feature' },
      [SHA, 'my-feature'],
    ],
    [
      'default rules on a pull request',
      ['sha', 'ref-slug', 'latest'],
      { kind: 'pull_request', refName: 'main' },
      [SHA, 'main'],
    ],
    [
      'tag push',
      ['sha', 'ref-slug', 'latest'],
      { kind: 'tag', refType: 'tag', refName: 'v1.2.0' },
      [SHA, 'v1-2-0'],
    ],
    ['fixed staging tag (seed 000)', ['staging'], {}, ['staging']],
    ['sha-short', ['sha-short'], {}, ['54b8206']],
    ['sha is moved first', ['staging', 'sha'], {}, [SHA, 'staging']],
    ['duplicates collapse', ['ref-slug', '{{ref-slug}}'], {}, ['main']],
    [
      'templates',
      ['{{branch}}-{{sha-short}}', 'nightly-{{date}}', 'build-{{timestamp}}'],
      {},
      ['main-54b8206', 'nightly-20261121', 'build-20261121090507'],
    ],
    ['tag template on a branch gives nothing', ['{{tag}}'], {}, []],
    [
      'tag template on a tag',
      ['release-{{tag}}'],
      { kind: 'tag', refType: 'tag', refName: 'v2' },
      ['release-v2'],
    ],
  ])('%s', (_what, rules, overrides, expected) => {
    expect(computeTags('api', rules, context(overrides))).toEqual(expected);
  });

  test.each([
    [
      ['{{branch}}'],
      { refName: 'feature/x' },
      /image "api": tag rule "\{\{branch\}\}" gives .*feature\/x/,
    ],
    [['x'.repeat(129)], {}, /tag rule "x{129}"/],
    [['{{nope}}'], {}, /unknown placeholder \{\{nope\}\}/],
    [['-bad'], {}, /tag rule "-bad"/],
  ])('rule %j is rejected with a clear message', (rules, overrides, message) => {
    expect(() => computeTags('api', rules, context(overrides))).toThrow(NameError);
    expect(() => computeTags('api', rules, context(overrides))).toThrow(message);
  });

  test('sha-short length is configurable', () => {
    expect(
      computeTags('api', ['sha-short'], { event: event({}), shaShortLength: 12, now: NOW }),
    ).toEqual(['54b820607719']);
  });
});
