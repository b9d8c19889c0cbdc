// contextFileHashes on a real git repository: tracked, modified, executable, deleted,
// untracked, ignored files, symlinks, and names with spaces, unicode, quotes and newlines.
import { createHash } from 'node:crypto';
import { chmod, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { contextFileHashes } from '../../src/adapters/content-files.js';
import type { ContextFileHash } from '../../src/build/content-key.js';
import { cleanupRepos, makeRepo, type TempRepo } from '../support/git-repo.js';

/** The git blob id of a content, computed here rather than asked of git. */
function blob(content: string): string {
  const data = Buffer.from(content, 'utf8');
  return createHash('sha1')
    .update(Buffer.concat([Buffer.from(`blob ${data.length}\0`), data]))
    .digest('hex');
}

const CONTEXT = 'app dir/ctx';

let repo: TempRepo;

beforeAll(async () => {
  repo = await makeRepo();
  await repo.write({
    '.gitignore': '*.log\n',
    [`${CONTEXT}/a.txt`]: 'a\n',
    [`${CONTEXT}/ünï cødé.txt`]: 'unicode\n',
    [`${CONTEXT}/sub/b.txt`]: 'b\n',
    [`${CONTEXT}/sub/excluded.txt`]: 'excluded\n',
    [`${CONTEXT}/run.sh`]: '#!/bin/sh\necho run\n',
    [`${CONTEXT}/gone.txt`]: 'gone\n',
    [`${CONTEXT}/staged-gone.txt`]: 'staged gone\n',
    'other/x.txt': 'outside the context\n',
  });
  await symlink('a.txt', join(repo.dir, CONTEXT, 'link'));
  await writeFile(join(repo.dir, CONTEXT, 'kept.log'), 'tracked although ignored\n');
  await repo.git('add', '--force', '--', `${CONTEXT}/link`, `${CONTEXT}/kept.log`);
  await repo.commit('initial');

  const at = (path: string) => join(repo.dir, CONTEXT, path);
  await writeFile(at('a.txt'), 'a, changed\n');
  await chmod(at('run.sh'), 0o755);
  await rm(at('gone.txt'));
  await repo.git('rm', '-q', '--', `${CONTEXT}/staged-gone.txt`);
  await writeFile(at('new file.txt'), 'new\n');
  await writeFile(at('odd\nname.txt'), 'newline in the name\n');
  await writeFile(at('"quoted".txt'), 'quotes\n');
  await writeFile(at('debug.log'), 'ignored\n');
  await mkdir(at('deep/er'), { recursive: true });
  await writeFile(at('deep/er/c.txt'), 'c\n');
  await symlink('../nowhere', at('dangling'));
});

afterAll(async () => {
  await cleanupRepos();
});

const EXPECTED: ContextFileHash[] = [
  { path: '"quoted".txt', hash: blob('quotes\n'), mode: '100644' },
  { path: 'a.txt', hash: blob('a, changed\n'), mode: '100644' },
  { path: 'dangling', hash: blob('../nowhere'), mode: '120000' },
  { path: 'deep/er/c.txt', hash: blob('c\n'), mode: '100644' },
  { path: 'kept.log', hash: blob('tracked although ignored\n'), mode: '100644' },
  { path: 'link', hash: blob('a.txt'), mode: '120000' },
  { path: 'new file.txt', hash: blob('new\n'), mode: '100644' },
  { path: 'odd\nname.txt', hash: blob('newline in the name\n'), mode: '100644' },
  { path: 'run.sh', hash: blob('#!/bin/sh\necho run\n'), mode: '100755' },
  { path: 'sub/b.txt', hash: blob('b\n'), mode: '100644' },
  { path: 'ünï cødé.txt', hash: blob('unicode\n'), mode: '100644' },
];

test('hashes the files of a context as git would, tracked or not', async () => {
  const seen: string[] = [];
  const files = await contextFileHashes(repo.dir, CONTEXT, (path) => {
    seen.push(path);
    return path !== 'sub/excluded.txt';
  });
  expect(files).toEqual(EXPECTED);
  // Each path is offered once; ignored files and files outside the context never are.
  expect(seen).toContain('sub/excluded.txt');
  expect(new Set(seen).size).toBe(seen.length);
  expect(seen.filter((path) => /debug\.log|x\.txt/.test(path))).toEqual([]);
});

test('takes the context path as written: "./", a trailing "/"', async () => {
  const files = await contextFileHashes(repo.dir, `./${CONTEXT}/`, (path) => path === 'a.txt');
  expect(files).toEqual([{ path: 'a.txt', hash: blob('a, changed\n'), mode: '100644' }]);
});

test('works from a project folder inside the work tree', async () => {
  const files = await contextFileHashes(
    join(repo.dir, 'app dir'),
    'ctx',
    (path) => path !== 'sub/excluded.txt',
  );
  expect(files).toEqual(EXPECTED);
});

test('the repository root as context', async () => {
  const files = await contextFileHashes(repo.dir, '.', () => true);
  const paths = files.map((file) => file.path);
  expect(paths).toEqual(expect.arrayContaining(['.gitignore', 'other/x.txt', `${CONTEXT}/a.txt`]));
  expect(paths).not.toContain(`${CONTEXT}/debug.log`);
  expect(paths).not.toContain(`${CONTEXT}/gone.txt`);
  expect(files).toHaveLength(EXPECTED.length + 3);
});

test('a context folder with glob characters is taken literally', async () => {
  await repo.write({ 'lit[e]ral/*.txt': 'star\n', 'lite/x.txt': 'not matched\n' });
  const files = await contextFileHashes(repo.dir, 'lit[e]ral', () => true);
  expect(files).toEqual([{ path: '*.txt', hash: blob('star\n'), mode: '100644' }]);
});

test('refuses a context outside the project folder', async () => {
  await expect(contextFileHashes(repo.dir, '../elsewhere', () => true)).rejects.toThrow(
    'not inside the repository folder',
  );
});
