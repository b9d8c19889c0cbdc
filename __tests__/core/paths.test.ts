import {
  ancestorFolders,
  basename,
  dirname,
  joinRelative,
  normaliseRelative,
  relativeTo,
} from '../../src/core/paths.js';

describe('repo-relative paths', () => {
  test.each([
    ['a/b/c.txt', 'a/b', 'c.txt'],
    ['c.txt', '.', 'c.txt'],
    ['a/Dockerfile.x', 'a', 'Dockerfile.x'],
  ])('%s splits into %s and %s', (path, dir, base) => {
    expect(dirname(path)).toBe(dir);
    expect(basename(path)).toBe(base);
  });

  test.each([
    [['a', 'b'], 'a/b'],
    [['./a/', '../b'], 'b'],
    [['a', '..'], '.'],
    [['..'], undefined],
    [['a', '../../b'], undefined],
    [['a//b/./c'], 'a/b/c'],
  ])('joinRelative(%j) = %s', (parts, expected) => {
    expect(joinRelative(...parts)).toBe(expected);
  });

  test.each([
    ['.', 'a/b', 'a/b'],
    ['a', 'a/b', 'b'],
    ['a', 'ab/c', undefined],
    ['a', 'a', undefined],
  ])('relativeTo(%s, %s) = %s', (dir, path, expected) => {
    expect(relativeTo(dir, path)).toBe(expected);
  });

  test('ancestorFolders lists innermost first and ends at the root', () => {
    expect(ancestorFolders('a/b/c/file')).toEqual(['a/b/c', 'a/b', 'a', '.']);
    expect(ancestorFolders('file')).toEqual(['.']);
  });

  test('absolute paths are not repository paths', () => {
    expect(normaliseRelative('/etc/passwd')).toBeUndefined();
    expect(normaliseRelative('./images/x/')).toBe('images/x');
  });
});
