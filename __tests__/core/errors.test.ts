import { CycleError, ConfigError, formatPosition } from '../../src/core/errors.js';

describe('errors', () => {
  test('a cycle names every step and returns to its start', () => {
    expect(new CycleError(['a', 'b', 'c', 'a']).message).toBe('dependency cycle: a -> b -> c -> a');
  });

  test.each([
    [{ file: 'image-builder.yml' }, 'image-builder.yml'],
    [{ file: 'image-builder.yml', line: 3 }, 'image-builder.yml:3'],
    [{ file: 'a/Dockerfile', line: 3, column: 7 }, 'a/Dockerfile:3:7'],
  ])('position %o formats as %s', (position, text) => {
    expect(formatPosition(position)).toBe(text);
  });

  test('a positioned error starts with its place', () => {
    const error = new ConfigError('unknown key "tgas"', { file: 'image-builder.yml', line: 4 });
    expect(error.message).toBe('image-builder.yml:4: unknown key "tgas"');
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.name).toBe('ConfigError');
  });
});
