import {
  CONTENT_KEY_VERSION,
  contentKey,
  contentKeyText,
  type ContentKeyInput,
} from '../../src/build/content-key.js';

const BLOB_A = 'a'.repeat(40);
const BLOB_B = 'b'.repeat(40);
const PARENT = `sha256:${'1'.repeat(64)}`;

const BASE: ContentKeyInput = {
  dockerfileText: 'FROM ghcr.io/acme/base\nCOPY . /app\n',
  files: [
    { path: 'a.txt', hash: BLOB_A, mode: '100644' },
    { path: 'bin/run', hash: BLOB_B, mode: '100755' },
  ],
  buildArgs: { VERSION: '1.0', FLAGS: '-O2' },
  target: 'runtime',
  platforms: ['linux/amd64', 'linux/arm64'],
  parentDigests: { base: PARENT },
  builder: 'buildah 1.28.2',
  labelsThatMatter: { 'org.opencontainers.image.title': 'app' },
};

const KEY = contentKey(BASE);

function without<K extends keyof ContentKeyInput>(key: K): ContentKeyInput {
  const copy = { ...BASE };
  delete copy[key];
  return copy;
}

describe('contentKey', () => {
  it('is 64 hex digits', () => {
    expect(KEY).toMatch(/^[a-f0-9]{64}$/);
  });

  // A change in the serialisation must come with a new CONTENT_KEY_VERSION: this value only
  // changes with one.
  it('is stable across releases for the same input', () => {
    expect(CONTENT_KEY_VERSION).toBe(1);
    expect(KEY).toBe('8c569ffba861d391014f75df7cbf038c6fafeaa9e2c927f37b3223a3896fac67');
  });

  it.each<[string, ContentKeyInput]>([
    ['the Dockerfile', { ...BASE, dockerfileText: `${BASE.dockerfileText}USER app\n` }],
    ['a file content', { ...BASE, files: [BASE.files[0]!, { ...BASE.files[1]!, hash: BLOB_A }] }],
    ['a file mode', { ...BASE, files: [BASE.files[0]!, { ...BASE.files[1]!, mode: '100644' }] }],
    ['a file name', { ...BASE, files: [BASE.files[0]!, { ...BASE.files[1]!, path: 'bin/start' }] }],
    ['a file added', { ...BASE, files: [...BASE.files, { path: 'c', hash: BLOB_A }] }],
    ['a file removed', { ...BASE, files: BASE.files.slice(1) }],
    ['a build-arg value', { ...BASE, buildArgs: { ...BASE.buildArgs, VERSION: '1.1' } }],
    ['a build-arg added', { ...BASE, buildArgs: { ...BASE.buildArgs, DEBUG: '' } }],
    ['a build-arg name', { ...BASE, buildArgs: { VERSION: '1.0', FLAG: '-O2' } }],
    ['the target', { ...BASE, target: 'debug' }],
    ['no target', without('target')],
    ['a platform', { ...BASE, platforms: ['linux/amd64'] }],
    ['no platforms (the builder own)', { ...BASE, platforms: [] }],
    ['a parent digest', { ...BASE, parentDigests: { base: `sha256:${'2'.repeat(64)}` } }],
    ['another parent', { ...BASE, parentDigests: { ...BASE.parentDigests, tools: PARENT } }],
    ['the builder', { ...BASE, builder: 'buildah 1.39.0' }],
    [
      'a label that matters',
      { ...BASE, labelsThatMatter: { 'org.opencontainers.image.title': 'api' } },
    ],
    [
      'a value moved between fields',
      { ...BASE, buildArgs: { VERSION: '1.0', FLAGS: '' }, target: '-O2' },
    ],
  ])('changes with %s', (_name, input) => {
    expect(contentKey(input)).not.toBe(KEY);
  });

  it.each<[string, ContentKeyInput]>([
    ['files in another order', { ...BASE, files: [...BASE.files].reverse() }],
    ['build-args in another order', { ...BASE, buildArgs: { FLAGS: '-O2', VERSION: '1.0' } }],
    [
      'platforms in another order, repeated',
      { ...BASE, platforms: ['linux/arm64', 'linux/amd64', 'linux/arm64'] },
    ],
    [
      'the creation date and revision labels',
      {
        ...BASE,
        labelsThatMatter: {
          'org.opencontainers.image.created': new Date().toISOString(),
          'org.opencontainers.image.title': 'app',
          'org.opencontainers.image.revision': 'c'.repeat(40),
        },
      },
    ],
  ])('does not change with %s', (_name, input) => {
    expect(contentKey(input)).toBe(KEY);
  });

  it('takes no labels as an empty set', () => {
    expect(contentKey({ ...without('labelsThatMatter') })).toBe(
      contentKey({ ...BASE, labelsThatMatter: {} }),
    );
  });

  it('refuses a file listed twice', () => {
    expect(() => contentKey({ ...BASE, files: [...BASE.files, BASE.files[0]!] })).toThrow(
      'a.txt is listed twice',
    );
  });
});

describe('contentKeyText', () => {
  it('is versioned, canonical JSON', () => {
    expect(JSON.parse(contentKeyText(BASE))).toEqual([
      'image-builder/content-key',
      1,
      BASE.dockerfileText,
      'runtime',
      ['linux/amd64', 'linux/arm64'],
      [
        ['FLAGS', '-O2'],
        ['VERSION', '1.0'],
      ],
      [['base', PARENT]],
      'buildah 1.28.2',
      [['org.opencontainers.image.title', 'app']],
      [
        ['a.txt', '100644', BLOB_A],
        ['bin/run', '100755', BLOB_B],
      ],
    ]);
  });
});
