import { NameError } from '../../src/core/errors.js';
import {
  formatReference,
  parseReference,
  referencesRepository,
  repositoryOf,
  validateRepositoryPath,
  validateTag,
} from '../../src/core/reference.js';
import type { ImageReference } from '../../src/core/types.js';

const DIGEST = `sha256:${'0123456789abcdef'.repeat(4)}`;

describe('parseReference', () => {
  // Expected values follow distribution/reference's normalize_test.go.
  test.each<[string, ImageReference, string, string]>([
    [
      'ubuntu',
      { registry: 'docker.io', path: 'library/ubuntu', explicitRegistry: false },
      'docker.io/library/ubuntu',
      'ubuntu',
    ],
    [
      'ubuntu:22.04',
      { registry: 'docker.io', path: 'library/ubuntu', tag: '22.04', explicitRegistry: false },
      'docker.io/library/ubuntu:22.04',
      'ubuntu:22.04',
    ],
    [
      'docker.io/ubuntu',
      { registry: 'docker.io', path: 'library/ubuntu', explicitRegistry: true },
      'docker.io/library/ubuntu',
      'ubuntu',
    ],
    [
      'index.docker.io/library/ubuntu',
      { registry: 'docker.io', path: 'library/ubuntu', explicitRegistry: true },
      'docker.io/library/ubuntu',
      'ubuntu',
    ],
    [
      'library/ubuntu',
      { registry: 'docker.io', path: 'library/ubuntu', explicitRegistry: false },
      'docker.io/library/ubuntu',
      'ubuntu',
    ],
    [
      'acme/api:1.0',
      { registry: 'docker.io', path: 'acme/api', tag: '1.0', explicitRegistry: false },
      'docker.io/acme/api:1.0',
      'acme/api:1.0',
    ],
    [
      'docker.io/library/distros/ubuntu',
      { registry: 'docker.io', path: 'library/distros/ubuntu', explicitRegistry: true },
      'docker.io/library/distros/ubuntu',
      'library/distros/ubuntu',
    ],
    [
      'localhost/foo',
      { registry: 'localhost', path: 'foo', explicitRegistry: true },
      'localhost/foo',
      'localhost/foo',
    ],
    [
      'localhost:5000/foo/bar:tag',
      { registry: 'localhost:5000', path: 'foo/bar', tag: 'tag', explicitRegistry: true },
      'localhost:5000/foo/bar:tag',
      'localhost:5000/foo/bar:tag',
    ],
    [
      `127.0.0.1:5000/x@${DIGEST}`,
      { registry: '127.0.0.1:5000', path: 'x', digest: DIGEST, explicitRegistry: true },
      `127.0.0.1:5000/x@${DIGEST}`,
      `127.0.0.1:5000/x@${DIGEST}`,
    ],
    [
      `ghcr.io/acme/api:1@${DIGEST}`,
      { registry: 'ghcr.io', path: 'acme/api', tag: '1', digest: DIGEST, explicitRegistry: true },
      `ghcr.io/acme/api:1@${DIGEST}`,
      `ghcr.io/acme/api:1@${DIGEST}`,
    ],
    [
      'gcr.io/lattice-dev/stable-envoy-prepare',
      { registry: 'gcr.io', path: 'lattice-dev/stable-envoy-prepare', explicitRegistry: true },
      'gcr.io/lattice-dev/stable-envoy-prepare',
      'gcr.io/lattice-dev/stable-envoy-prepare',
    ],
    [
      '123456789012.dkr.ecr.us-east-1.amazonaws.com/a/b:1',
      {
        registry: '123456789012.dkr.ecr.us-east-1.amazonaws.com',
        path: 'a/b',
        tag: '1',
        explicitRegistry: true,
      },
      '123456789012.dkr.ecr.us-east-1.amazonaws.com/a/b:1',
      '123456789012.dkr.ecr.us-east-1.amazonaws.com/a/b:1',
    ],
    [
      'public.ecr.aws/alias/name/sub',
      { registry: 'public.ecr.aws', path: 'alias/name/sub', explicitRegistry: true },
      'public.ecr.aws/alias/name/sub',
      'public.ecr.aws/alias/name/sub',
    ],
    [
      '[::1]:5000/foo:bar',
      { registry: '[::1]:5000', path: 'foo', tag: 'bar', explicitRegistry: true },
      '[::1]:5000/foo:bar',
      '[::1]:5000/foo:bar',
    ],
    [
      '[fe80::1]/x',
      { registry: '[fe80::1]', path: 'x', explicitRegistry: true },
      '[fe80::1]/x',
      '[fe80::1]/x',
    ],
    [
      // An uppercase first component can only be a host, as in Docker.
      'Registry/foo',
      { registry: 'Registry', path: 'foo', explicitRegistry: true },
      'Registry/foo',
      'Registry/foo',
    ],
    [
      'foo__bar/a-b---c.d_e',
      { registry: 'docker.io', path: 'foo__bar/a-b---c.d_e', explicitRegistry: false },
      'docker.io/foo__bar/a-b---c.d_e',
      'foo__bar/a-b---c.d_e',
    ],
    [
      // With no "/", `localhost:5000` is the image `localhost` with tag `5000` (Docker agrees).
      'localhost:5000',
      { registry: 'docker.io', path: 'library/localhost', tag: '5000', explicitRegistry: false },
      'docker.io/library/localhost:5000',
      'localhost:5000',
    ],
    [
      // `a.b/c` would read back with `a.b` as the registry, so the short form keeps docker.io.
      'docker.io/a.b/c',
      { registry: 'docker.io', path: 'a.b/c', explicitRegistry: true },
      'docker.io/a.b/c',
      'docker.io/a.b/c',
    ],
  ])('%s', (text, expected, canonical, short) => {
    const reference = parseReference(text);
    expect(reference).toEqual(expected);
    expect(formatReference(reference)).toBe(canonical);
    expect(formatReference(reference, { short: true })).toBe(short);
    // The short form reads back as the same repository, tag and digest.
    const again = parseReference(short);
    expect(again).toEqual({ ...expected, explicitRegistry: again.explicitRegistry });
  });

  test.each<[string, string]>([
    ['', 'it is empty'],
    ['Ubuntu', 'repository path "Ubuntu" must be lowercase'],
    ['acme/Api', 'repository path "acme/Api" must be lowercase'],
    ['localhost:5000/Foo', 'repository path "Foo" must be lowercase'],
    ['a//b', 'repository path "a//b" has an empty component'],
    ['foo/', 'repository path "foo/" has an empty component'],
    ['/foo', 'repository path "/foo" has an empty component'],
    ['foo bar', 'component "foo bar" must match [a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*'],
    ['acme/-api', 'component "-api" must match'],
    ['acme/api_', 'component "api_" must match'],
    ['acme/a_-b', 'component "a_-b" must match'],
    ['foo:', 'tag "" must match [A-Za-z0-9_][A-Za-z0-9._-]{0,127}'],
    ['foo:.x', 'tag ".x" must match'],
    [`foo:${'a'.repeat(129)}`, 'it is 129 characters long, at most 128 are allowed'],
    ['foo@', 'digest "" must be sha256: followed by 64 lowercase hex digits'],
    ['foo@sha256:abc', 'digest "sha256:abc" must be sha256:'],
    [`foo@sha256:${'A'.repeat(64)}`, 'must be sha256: followed by 64 lowercase hex digits'],
    [`foo@md5:${'a'.repeat(32)}`, `digest "md5:${'a'.repeat(32)}" must be`],
    [`foo@${'a'.repeat(64)}`, 'must be sha256:'],
    [':tag', 'the repository name is empty'],
    ['localhost:abc/foo', 'registry "localhost:abc" must be a host name'],
    ['-bad.io/foo', 'registry "-bad.io" must be a host name'],
    ['[::1/foo', 'registry "[::1" must be a host name'],
    ['a'.repeat(64), 'is an image ID, not a repository name'],
    [`${'x'.repeat(250)}/y`, 'is 262 characters long, at most 255 are allowed'],
  ])('%j is refused: %s', (text, rule) => {
    let error: unknown;
    try {
      parseReference(text);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(NameError);
    expect((error as NameError).message).toContain(`invalid image reference "${text}": `);
    expect((error as NameError).message).toContain(rule);
  });
});

describe('repositoryOf', () => {
  test.each([
    ['ubuntu:22.04', 'docker.io/library/ubuntu'],
    [`ghcr.io/acme/api:1@${DIGEST}`, 'ghcr.io/acme/api'],
    ['localhost:5000/base', 'localhost:5000/base'],
  ])('%s -> %s', (text, repository) => {
    expect(repositoryOf(parseReference(text))).toBe(repository);
  });
});

describe('validateTag', () => {
  test.each(['latest', 'v1.2.3', '_private', 'A-b_c.D', '0', 'a'.repeat(128)])(
    '%s is valid',
    (tag) => {
      expect(validateTag(tag)).toBeUndefined();
    },
  );

  test.each([
    ['Feature/x', 'tag "Feature/x" must match [A-Za-z0-9_][A-Za-z0-9._-]{0,127}'],
    ['', 'tag "" must match [A-Za-z0-9_][A-Za-z0-9._-]{0,127}'],
    ['.hidden', 'tag ".hidden" must match [A-Za-z0-9_][A-Za-z0-9._-]{0,127}'],
    ['-x', 'tag "-x" must match [A-Za-z0-9_][A-Za-z0-9._-]{0,127}'],
    ['a+b', 'tag "a+b" must match [A-Za-z0-9_][A-Za-z0-9._-]{0,127}'],
    [
      'a'.repeat(129),
      `tag "${'a'.repeat(129)}" must match [A-Za-z0-9_][A-Za-z0-9._-]{0,127} (it is 129 characters long, at most 128 are allowed)`,
    ],
  ])('%j is refused', (tag, message) => {
    expect(validateTag(tag)).toBe(message);
  });
});

describe('validateRepositoryPath', () => {
  test.each(['acme/api', 'a', 'a/b/c', 'a.b_c__d-e--f', 'stable-debug-api', '0/1'])(
    '%s is valid',
    (path) => {
      expect(validateRepositoryPath(path)).toBeUndefined();
    },
  );

  test.each([
    ['', 'repository path must not be empty'],
    ['Acme/api', 'repository path "Acme/api" must be lowercase'],
    ['a//b', 'repository path "a//b" has an empty component (a leading, trailing or doubled "/")'],
    ['/a', 'repository path "/a" has an empty component (a leading, trailing or doubled "/")'],
    ['a/', 'repository path "a/" has an empty component (a leading, trailing or doubled "/")'],
    [
      'a/_b',
      'repository path "a/_b": component "_b" must match [a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*',
    ],
    [
      'a/b.',
      'repository path "a/b.": component "b." must match [a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*',
    ],
    [
      'a___b',
      'repository path "a___b": component "a___b" must match [a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*',
    ],
    ['a b', 'repository path "a b": component "a b" must match [a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*'],
    [
      'ghcr.io:443/a',
      'repository path "ghcr.io:443/a": component "ghcr.io:443" must match [a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*',
    ],
    [
      'a'.repeat(256),
      `repository path "${'a'.repeat(256)}" is 256 characters long, at most 255 are allowed`,
    ],
  ])('%j is refused', (path, message) => {
    expect(validateRepositoryPath(path)).toBe(message);
  });
});

describe('referencesRepository', () => {
  test.each<[string, string, boolean]>([
    ['ghcr.io/acme/base:1', 'ghcr.io/acme/base', true],
    [`ghcr.io/acme/base@${DIGEST}`, 'ghcr.io/acme/base', true],
    ['ghcr.io/acme/base', 'ghcr.io/acme/base', true],
    ['GHCR.io/acme/base', 'ghcr.io/acme/base', true],
    ['acme/base:1', 'ghcr.io/acme/base', true],
    ['acme/base', '123456789012.dkr.ecr.eu-west-1.amazonaws.com/acme/base', true],
    ['base', 'ghcr.io/acme/base', false],
    ['base', 'base', true],
    ['base:1', 'docker.io/library/base', true],
    ['library/base', 'base', true],
    ['index.docker.io/library/base', 'base', true],
    ['base:1', 'localhost:5000/base', true],
    ['localhost:5000/base:1', 'localhost:5000/base', true],
    ['localhost:5001/base', 'localhost:5000/base', false],
    ['docker.io/library/base', 'localhost:5000/base', false],
    ['docker.io/acme/base', 'ghcr.io/acme/base', false],
    ['quay.io/acme/base', 'ghcr.io/acme/base', false],
    ['ghcr.io/acme/base-extra', 'ghcr.io/acme/base', false],
    ['ghcr.io/acme/base/sub', 'ghcr.io/acme/base', false],
    ['acme/base', 'ghcr.io/other/base', false],
    ['other/base', 'base', false],
  ])('%s names %s: %s', (use, repository, expected) => {
    expect(referencesRepository(parseReference(use), repository)).toBe(expected);
  });

  test('an invalid repository is a NameError', () => {
    expect(() => referencesRepository(parseReference('base'), 'Acme/Base')).toThrow(NameError);
  });
});
