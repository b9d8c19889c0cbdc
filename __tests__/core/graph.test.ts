import { CycleError, ConfigError } from '../../src/core/errors.js';
import { buildGraph, descendants, findEdges } from '../../src/core/graph.js';
import { parseReference } from '../../src/core/reference.js';
import type { ImageSpec, ImageUse } from '../../src/core/types.js';

function spec(name: string, repository: string, dependsOn: string[] = []): ImageSpec {
  return {
    name,
    kind: 'dockerfile',
    source: `images/${name}/Dockerfile`,
    context: `images/${name}`,
    dockerfile: `images/${name}/Dockerfile`,
    buildArgs: {},
    platforms: [],
    dependsOn,
    watch: [],
    builder: 'auto',
    repository,
    tagRules: ['sha'],
    variants: {},
  };
}

function use(text: string, line = 1, kind: ImageUse['kind'] = 'from'): ImageUse {
  return { kind, text, reference: parseReference(text), line };
}

describe('findEdges', () => {
  const images = [
    spec('base', 'ghcr.io/acme/base'),
    spec('api', 'ghcr.io/acme/api'),
    spec('node', 'ghcr.io/acme/node'),
  ];

  test.each<[string, ImageUse[], string[]]>([
    ['full name with tag', [use('ghcr.io/acme/base:latest')], ['base FROM line 1']],
    [
      'full name with digest',
      [use(`ghcr.io/acme/base@sha256:${'a'.repeat(64)}`)],
      ['base FROM line 1'],
    ],
    ['path without registry host', [use('acme/base:1.0', 3)], ['base FROM line 3']],
    ['another registry with the same path is not ours', [use('quay.io/acme/base')], []],
    ['docker hub node is not our node', [use('node:20')], []],
    [
      'COPY --from another image',
      [use('ghcr.io/acme/base', 7, 'copy-from')],
      ['base COPY --from line 7'],
    ],
    [
      'RUN --mount from another image',
      [use('ghcr.io/acme/base', 9, 'mount-from')],
      ['base RUN --mount from line 9'],
    ],
    [
      'two uses of one parent give one edge',
      [use('ghcr.io/acme/base', 1), use('ghcr.io/acme/base:2', 5, 'copy-from')],
      ['base FROM line 1'],
    ],
    ['its own repository is no parent', [use('ghcr.io/acme/api:cache')], []],
  ])('%s', (_what, uses, expected) => {
    const edges = findEdges(images, new Map([['api', uses]]));
    expect(edges.map((edge) => `${edge.parent} ${edge.via}`)).toEqual(expected);
  });

  test('bare names match images when no registry is configured', () => {
    const local = [spec('base', 'base'), spec('api', 'api')];
    const edges = findEdges(local, new Map([['api', [use('base')]]]));
    expect(edges).toEqual([{ parent: 'base', child: 'api', via: 'FROM line 1' }]);
  });

  test('a bare name matches an image under a registry host with a single-component path', () => {
    const local = [spec('base', 'localhost:5000/base'), spec('api', 'localhost:5000/api')];
    expect(findEdges(local, new Map([['api', [use('base:1')]]])).map((e) => e.parent)).toEqual([
      'base',
    ]);
  });

  test('depends-on adds edges, and must name an image', () => {
    const withDeps = [spec('base', 'base'), spec('api', 'api', ['base'])];
    expect(findEdges(withDeps, new Map())).toEqual([
      { parent: 'base', child: 'api', via: 'depends-on' },
    ]);
    expect(() => findEdges([spec('api', 'api', ['nope'])], new Map())).toThrow(ConfigError);
  });
});

describe('buildGraph', () => {
  const edge = (parent: string, child: string) => ({ parent, child, via: 'depends-on' });

  test('orders parents first, with levels, ties by name', () => {
    const graph = buildGraph(
      ['d', 'c', 'b', 'a', 'x'],
      [edge('a', 'b'), edge('b', 'c'), edge('a', 'd'), edge('c', 'd')],
    );
    expect(graph.order).toEqual(['a', 'x', 'b', 'c', 'd']);
    expect(Object.fromEntries(graph.levels)).toEqual({ a: 0, x: 0, b: 1, c: 2, d: 3 });
    expect(graph.parents.get('d')).toEqual(['a', 'c']);
    expect([...descendants(graph, ['b'])].sort()).toEqual(['c', 'd']);
  });

  test.each<[string[], [string, string][], string]>([
    [
      ['a', 'b'],
      [
        ['a', 'b'],
        ['b', 'a'],
      ],
      'dependency cycle: a -> b -> a',
    ],
    [
      ['a', 'b', 'c', 'root'],
      [
        ['root', 'a'],
        ['a', 'b'],
        ['b', 'c'],
        ['c', 'a'],
      ],
      'dependency cycle: a -> b -> c -> a',
    ],
    [['solo'], [['solo', 'solo']], 'dependency cycle: solo -> solo'],
  ])('a cycle among %j is named', (names, edges, message) => {
    const build = () =>
      buildGraph(
        names,
        edges.map(([p, c]) => edge(p, c)),
      );
    expect(build).toThrow(CycleError);
    expect(build).toThrow(message);
  });
});
