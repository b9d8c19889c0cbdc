import {
  contextFilter,
  describeReason,
  dockerignoreFilter,
  findAffected,
  imagesWithChangedSettings,
} from '../../src/core/changes.js';
import type { AffectInput } from '../../src/core/changes.js';
import { buildGraph } from '../../src/core/graph.js';
import type { ChangeSet, ImageSpec } from '../../src/core/types.js';

function spec(name: string, overrides: Partial<ImageSpec> = {}): ImageSpec {
  return {
    name,
    kind: 'dockerfile',
    source: `images/${name}/Dockerfile`,
    context: `images/${name}`,
    dockerfile: `images/${name}/Dockerfile`,
    buildArgs: {},
    platforms: [],
    dependsOn: [],
    watch: [],
    builder: 'auto',
    repository: name,
    tagRules: ['sha'],
    variants: {},
    ...overrides,
  };
}

// base <- app <- plugin ; tools alone ; shared-context images a and b at the root
const images = [
  spec('base'),
  spec('app', { watch: ['src/app/**', 'VERSION'] }),
  spec('plugin'),
  spec('tools'),
  spec('a', { source: 'Dockerfile.a', context: '.', dockerfile: 'Dockerfile.a' }),
  spec('b', { source: 'Dockerfile.b', context: '.', dockerfile: 'Dockerfile.b' }),
];
const graph = buildGraph(
  images.map((image) => image.name),
  [
    { parent: 'base', child: 'app', via: 'FROM line 1' },
    { parent: 'app', child: 'plugin', via: 'FROM line 1' },
  ],
);

function affected(paths: string[], extra: Partial<AffectInput> = {}) {
  const changes: ChangeSet = { all: false, paths, how: 'test', head: 'h' };
  const result = findAffected({
    images,
    graph,
    changes,
    globalWatch: ['.github/workflows/images.yml'],
    notContent: new Set([
      'Dockerfile.a',
      'Dockerfile.b',
      'image-builder.yml',
      ...images.map((i) => i.source),
    ]),
    filters: new Map([
      ['a', dockerignoreFilter('*\n!common/\n!a-files/\n')],
      ['b', dockerignoreFilter('*\n!common/\n!b-files/\n')],
    ]),
    ...extra,
  });
  return Object.fromEntries(
    [...result.images].map(([name, reasons]) => [name, reasons.map(describeReason)]),
  );
}

describe('findAffected', () => {
  test.each<[string, string[], Record<string, string[]>]>([
    ['nothing changed', [], {}],
    ['a file outside every context', ['README.md'], {}],
    [
      'a parent change reaches children and grandchildren',
      ['images/base/Dockerfile'],
      {
        base: ['changed images/base/Dockerfile'],
        app: ['parent base is rebuilt'],
        plugin: ['parent app is rebuilt'],
      },
    ],
    [
      'a middle image',
      ['images/app/entry.sh'],
      { app: ['changed images/app/entry.sh'], plugin: ['parent app is rebuilt'] },
    ],
    ['a leaf', ['images/tools/x'], { tools: ['changed images/tools/x'] }],
    [
      'a watched source tree (seed 004)',
      ['src/app/main.rb'],
      { app: ['changed src/app/main.rb (watch src/app/**)'], plugin: ['parent app is rebuilt'] },
    ],
    [
      'a watched plain file',
      ['VERSION'],
      { app: ['changed VERSION (watch VERSION)'], plugin: ['parent app is rebuilt'] },
    ],
    ['a path that only starts like a context', ['images/base-old/file'], {}],
    [
      'Dockerfile.a in the shared context affects a only',
      ['Dockerfile.a'],
      { a: ['changed Dockerfile.a'] },
    ],
    ['.dockerignore decides which shared files count', ['a-files/x'], { a: ['changed a-files/x'] }],
    [
      'a file both let in',
      ['common/lib.sh'],
      { a: ['changed common/lib.sh'], b: ['changed common/lib.sh'] },
    ],
    ['a file both ignore', ['docs/readme.md'], {}],
    [
      'the .dockerignore itself',
      ['.dockerignore'],
      { a: ['changed .dockerignore'], b: ['changed .dockerignore'] },
    ],
    ['the config file alone is not content', ['image-builder.yml'], {}],
  ])('%s', (_what, paths, expected) => {
    expect(affected(paths)).toEqual(expected);
  });

  test('a global watch path affects every image', () => {
    expect(Object.keys(affected(['.github/workflows/images.yml'])).sort()).toEqual(
      images.map((i) => i.name).sort(),
    );
  });

  test('images come in build order', () => {
    expect(Object.keys(affected(['images/plugin/x', 'images/base/x', 'images/app/x']))).toEqual([
      'base',
      'app',
      'plugin',
    ]);
  });

  test('every image when the change set is unknown, with the reason', () => {
    const result = findAffected({
      images,
      graph,
      changes: { all: true, reason: 'all: new branch with no merge base', head: 'h' },
      globalWatch: [],
    });
    expect(result.images.size).toBe(images.length);
    expect(result.images.get('plugin')?.map(describeReason)).toContain(
      'all: new branch with no merge base',
    );
  });

  test('requested images are exactly those', () => {
    const result = findAffected({
      images,
      graph,
      changes: { all: true, reason: 'x', head: 'h' },
      globalWatch: [],
      requested: ['app'],
    });
    expect([...result.images.keys()]).toEqual(['app']);
    expect(result.unaffected.get('plugin')).toBe('not requested');
    expect(() =>
      findAffected({
        images,
        graph,
        changes: { all: true, reason: 'x', head: 'h' },
        globalWatch: [],
        requested: ['nope'],
      }),
    ).toThrow(/no image is named "nope"/);
  });

  test('config changes affect the images whose settings changed', () => {
    const result = affected(['image-builder.yml'], {
      configChanges: { images: new Set(['tools']), file: 'image-builder.yml' },
    });
    expect(result).toEqual({ tools: ['its settings changed in image-builder.yml'] });
  });

  test('many changed paths keep five reasons and a count', () => {
    const paths = Array.from({ length: 40 }, (_, i) => `images/tools/f${i}`);
    const result = findAffected({
      images,
      graph,
      changes: { all: false, paths, how: 't', head: 'h' },
      globalWatch: [],
    });
    expect(result.images.get('tools')).toHaveLength(5);
    expect(result.morePaths.get('tools')).toBe(35);
  });

  test('unaffected images say why', () => {
    const result = findAffected({
      images,
      graph,
      changes: { all: false, paths: ['images/tools/x'], how: 't', head: 'h' },
      globalWatch: [],
    });
    expect(result.unaffected.get('base')).toBe(
      'no change in its context, Dockerfile or watch paths',
    );
  });
});

describe('imagesWithChangedSettings', () => {
  test('names changed and new images only', () => {
    const before = [spec('a'), spec('b', { buildArgs: { V: '1' } })];
    const after = [spec('a'), spec('b', { buildArgs: { V: '2' } }), spec('c')];
    expect([...imagesWithChangedSettings(before, after)].sort()).toEqual(['b', 'c']);
  });
});

describe('contextFilter', () => {
  test.each<[string, string | undefined, string[] | undefined, Record<string, boolean>]>([
    ['no .dockerignore, no sources: everything', undefined, undefined, { 'a/b': true, x: true }],
    [
      'folders and files the Dockerfile copies',
      undefined,
      ['common', 'builder-files/run.sh'],
      {
        'common/lib.sh': true,
        'common/deep/x': true,
        'builder-files/run.sh': true,
        'builder-files/other': false,
        commonplace: false,
        'sdk-files/y': false,
      },
    ],
    [
      'globs, and folders a glob matches',
      undefined,
      ['src/*.go', 'conf*'],
      {
        'src/main.go': true,
        'src/sub/main.go': false,
        'conf.d/x': true,
        config: true,
        other: false,
      },
    ],
    [
      '.dockerignore still applies inside copied folders',
      'common/*.md\n',
      ['common'],
      {
        'common/lib.sh': true,
        'common/README.md': false,
      },
    ],
    ['no sources at all: nothing of the context is read', undefined, [], { 'a/b': false }],
  ])('%s', (_what, ignore, sources, expected) => {
    const filter = contextFilter(ignore, sources);
    for (const [path, included] of Object.entries(expected))
      expect([path, filter.includes(path)]).toEqual([path, included]);
  });
});
