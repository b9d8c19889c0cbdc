import { writeFile } from 'node:fs/promises';
import { Git, GitError, parseNameStatus, touchedPaths } from '../../src/adapters/git.js';
import { UserError } from '../../src/core/errors.js';
import { cleanupRepos, cloneRemote, makeRemote, makeRepo } from '../support/git-repo.js';

afterAll(cleanupRepos);

describe('Git on a real repository', () => {
  test('head, branch, commits, revisions', async () => {
    const repo = await makeRepo();
    const first = await repo.commit('first', { 'a.txt': 'a\n' });
    const second = await repo.commit('second', { 'b.txt': 'b\n' });
    const git = new Git(repo.dir);

    expect(await git.headSha()).toBe(second);
    expect(await git.currentBranch()).toBe('main');
    expect(await git.hasCommit(first)).toBe(true);
    expect(await git.hasCommit('f'.repeat(40))).toBe(false);
    expect(await git.isShallow()).toBe(false);
    expect(await git.revParse('HEAD~1')).toBe(first);
    expect(await git.revParse('main')).toBe(second);
    expect(await git.revParse('no-such-branch')).toBeUndefined();
    expect(await git.isAncestor(first, second)).toBe(true);
    expect(await git.isAncestor(second, first)).toBe(false);

    await repo.checkout('--detach', first);
    expect(await git.currentBranch()).toBeUndefined();
    expect(await git.headSha()).toBe(first);
  });

  test('merge base of two branches, and none for unrelated histories', async () => {
    const repo = await makeRepo();
    const root = await repo.commit('root', { 'a.txt': 'a\n' });
    await repo.checkout('-b', 'feature');
    const feature = await repo.commit('feature', { 'f.txt': 'f\n' });
    await repo.checkout('main');
    const main = await repo.commit('main moves on', { 'm.txt': 'm\n' });
    await repo.checkout('--orphan', 'other');
    const other = await repo.commit('unrelated', { 'o.txt': 'o\n' });
    const git = new Git(repo.dir);

    expect(await git.mergeBase(main, feature)).toBe(root);
    expect(await git.mergeBase('main', 'feature')).toBe(root);
    expect(await git.mergeBase(main, other)).toBeUndefined();
  });

  test('changed paths: added, modified, deleted, both sides of a rename, odd names', async () => {
    const repo = await makeRepo();
    const odd = {
      'with space/Docker file': 'x\n',
      'images/café/Dockerfile': 'FROM scratch\n',
      'new\nline.txt': 'n\n',
      'quote"and\\backslash.txt': 'q\n',
      'tab\there.txt': 't\n',
    };
    const before = await repo.commit('before', {
      'keep.txt': 'keep\n',
      'edit.txt': 'one\n',
      'gone.txt': 'bye\n',
      'old/name.txt': 'a file that moves, long enough to be seen as a rename\n',
    });
    await repo.commit('changes', { 'edit.txt': 'two\n', 'gone.txt': null, ...odd });
    const after = await repo.rename('old/name.txt', 'new/name.txt');
    const git = new Git(repo.dir);

    expect(await git.changedPaths(before, after)).toEqual(
      ['edit.txt', 'gone.txt', 'new/name.txt', 'old/name.txt', ...Object.keys(odd)].sort(),
    );
    // Both paths of a lone rename.
    expect(await git.changedPaths(`${after}~1`, after)).toEqual(['new/name.txt', 'old/name.txt']);
    // Nothing between a commit and itself.
    expect(await git.changedPaths(after, after)).toEqual([]);
  });

  test('changed paths ignore a user diff.relative setting', async () => {
    const repo = await makeRepo();
    const before = await repo.commit('before', { 'sub/a.txt': 'a\n', 'top.txt': '1\n' });
    const after = await repo.commit('after', { 'sub/a.txt': 'b\n', 'top.txt': '2\n' });
    await repo.git('config', 'diff.relative', 'true');
    expect(await new Git(repo.dir).changedPaths(before, after)).toEqual(['sub/a.txt', 'top.txt']);
  });

  test('a project in a subfolder sees its own files and changes, relative to it', async () => {
    const repo = await makeRepo();
    const before = await repo.commit('before', {
      'tools/docker/Dockerfile.a': 'FROM scratch\n',
      'src/x': '1\n',
    });
    const after = await repo.commit('after', {
      'tools/docker/Dockerfile.a': 'FROM scratch\nENV A=1\n',
      'src/x': '2\n',
    });
    await writeFile(`${repo.dir}/tools/docker/untracked.txt`, 'u');
    const git = new Git(`${repo.dir}/tools/docker`);
    expect(await git.folderPrefix()).toBe('tools/docker/');
    expect(await git.changedPaths(before, after)).toEqual(['Dockerfile.a']);
    expect((await git.listFiles()).sort()).toEqual(['Dockerfile.a', 'untracked.txt']);
    expect(await git.show(before, 'Dockerfile.a')).toBe('FROM scratch\n');
  });

  test('listFiles and show', async () => {
    const repo = await makeRepo();
    const first = await repo.commit('first', {
      'images/api/Dockerfile': 'FROM alpine:3.20\n',
      'sp ace/ünï\ncode.txt': 'x',
    });
    await repo.commit('second', { 'images/api/Dockerfile': 'FROM alpine:3.21\n' });
    const git = new Git(repo.dir);

    expect((await git.listFiles()).sort()).toEqual([
      'images/api/Dockerfile',
      'sp ace/ünï\ncode.txt',
    ]);
    expect(await git.show('HEAD', 'images/api/Dockerfile')).toBe('FROM alpine:3.21\n');
    expect(await git.show(first, 'images/api/Dockerfile')).toBe('FROM alpine:3.20\n');
    expect(await git.show(first, './images/api/Dockerfile')).toBe('FROM alpine:3.20\n');
    expect(await git.show('HEAD', 'sp ace/ünï\ncode.txt')).toBe('x');
    expect(await git.show('HEAD', 'image-builder.yml')).toBeUndefined();
    // A folder is not a file.
    expect(await git.show('HEAD', 'images/api')).toBeUndefined();
  });

  test('errors name the git command and what git said', async () => {
    const repo = await makeRepo();
    await repo.commit('first', { 'a.txt': 'a\n' });
    const git = new Git(repo.dir);

    const error = await git.changedPaths('HEAD', 'f'.repeat(40)).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(GitError);
    expect(error).toBeInstanceOf(UserError);
    const gitError = error as GitError;
    expect(gitError.message).toMatch(/^git diff-tree -r -z --name-status --no-renames/);
    expect(gitError.message).toMatch(/failed \(exit 128\): .*f{40}/s);
    expect(gitError.exitCode).toBe(128);
    expect(gitError.args).toContain('f'.repeat(40));
  });

  test('a repository without commits: a clear error', async () => {
    const repo = await makeRepo();
    const git = new Git(repo.dir);
    // A repository without commits has no HEAD.
    await expect(git.headSha()).rejects.toThrow(/git rev-parse --verify HEAD\^\{commit\} failed/);
  });

  test('a missing git executable is a GitError too', async () => {
    const repo = await makeRepo();
    const git = new Git(repo.dir, { gitPath: 'git-that-does-not-exist' });
    await expect(git.headSha()).rejects.toThrow(GitError);
    await expect(git.headSha()).rejects.toThrow(/ENOENT/);
  });

  test('revisions that look like options are refused before git runs', async () => {
    const repo = await makeRepo();
    const git = new Git(repo.dir);
    await expect(git.hasCommit('--output=/tmp/x')).rejects.toThrow(/not a valid git revision/);
    await expect(git.changedPaths('-p', 'HEAD')).rejects.toThrow(UserError);
  });
});

describe('Git against a remote', () => {
  test('shallow clone: fetch a commit by sha, deepen, unshallow', async () => {
    const repo = await makeRepo();
    const shas: string[] = [];
    for (let i = 0; i < 8; i++) shas.push(await repo.commit(`c${i}`, { 'n.txt': `${i}\n` }));
    const remote = await makeRemote(repo);
    const clone = await cloneRemote(remote, { depth: 1 });
    const git = new Git(clone.dir);

    expect(await git.isShallow()).toBe(true);
    expect(await git.hasCommit(shas[6]!)).toBe(false);
    expect(await git.fetchCommit(shas[6]!, 1)).toBe(true);
    expect(await git.hasCommit(shas[6]!)).toBe(true);

    expect(await git.hasCommit(shas[3]!)).toBe(false);
    expect(await git.deepen(4, [shas[7]!])).toBe(true);
    expect(await git.hasCommit(shas[3]!)).toBe(true);
    expect(await git.hasCommit(shas[0]!)).toBe(false);

    expect(await git.unshallow()).toBe(true);
    expect(await git.isShallow()).toBe(false);
    expect(await git.hasCommit(shas[0]!)).toBe(true);
    // Already complete: nothing to do.
    expect(await git.unshallow()).toBe(true);
  });

  test('fetch failures are false, not thrown', async () => {
    const repo = await makeRepo();
    await repo.commit('c', { 'a.txt': 'a\n' });
    const remote = await makeRemote(repo);
    const clone = await cloneRemote(remote, { depth: 1 });
    const git = new Git(clone.dir);

    expect(await git.fetchCommit('e'.repeat(40), 1)).toBe(false);
    expect(await git.fetchBranch('no-such-branch', 1)).toBe(false);
    expect(await git.deepen(10, ['e'.repeat(40)])).toBe(false);

    const noRemote = new Git(clone.dir, { remote: 'nowhere' });
    expect(await noRemote.fetchCommit('e'.repeat(40))).toBe(false);
  });

  test('fetch a branch into its remote-tracking ref', async () => {
    const repo = await makeRepo();
    await repo.commit('c', { 'a.txt': 'a\n' });
    await repo.checkout('-b', 'develop');
    const develop = await repo.commit('d', { 'd.txt': 'd\n' });
    await repo.checkout('main');
    const remote = await makeRemote(repo);
    const clone = await cloneRemote(remote, { depth: 1, branch: 'main' });
    const git = new Git(clone.dir);

    expect(await git.revParse('origin/develop')).toBeUndefined();
    expect(await git.fetchBranch('develop', 1)).toBe(true);
    expect(await git.revParse('origin/develop')).toBe(develop);
  });

  test('default branch from origin/HEAD', async () => {
    const repo = await makeRepo();
    await repo.commit('c', { 'a.txt': 'a\n' });
    await repo.git('branch', 'trunk');
    const remote = await makeRemote(repo);

    const clone = await cloneRemote(remote);
    expect(await new Git(clone.dir).defaultBranchFromRemote()).toBe('main');

    // CI checkouts (actions/checkout) add the remote without origin/HEAD.
    await clone.git('remote', 'set-head', 'origin', '--delete');
    expect(await new Git(clone.dir).defaultBranchFromRemote()).toBeUndefined();

    // The repository without a remote at all.
    expect(
      await new Git(repo.dir, { remote: 'upstream' }).defaultBranchFromRemote(),
    ).toBeUndefined();
  });
});

describe('name-status parsing', () => {
  test.each([
    [
      'plain entries',
      'M\0a\0D\0b c\0A\0d\ne\0',
      [
        { status: 'M', path: 'a' },
        { status: 'D', path: 'b c' },
        { status: 'A', path: 'd\ne' },
      ],
    ],
    [
      'rename and copy with scores',
      'R087\0old\0new\0C100\0src\0copy\0',
      [
        { status: 'R', path: 'new', oldPath: 'old' },
        { status: 'C', path: 'copy', oldPath: 'src' },
      ],
    ],
    ['empty', '', []],
  ])('%s', (_title, output, expected) => {
    expect(parseNameStatus(output)).toEqual(expected);
  });

  test('touched paths: a rename counts both paths, a copy only its new path', () => {
    expect(
      touchedPaths([
        { status: 'R', path: 'new', oldPath: 'old' },
        { status: 'C', path: 'copy', oldPath: 'src' },
        { status: 'D', path: 'gone' },
        { status: 'M', path: 'new' },
      ]),
    ).toEqual(['copy', 'gone', 'new', 'old']);
  });
});
