import { defaultConfig } from '../../src/config/defaults.js';
import {
  FileIndex,
  findImages,
  imageNameFrom,
  matchesDiscovery,
  repositoryName,
  resolveImages,
} from '../../src/core/discovery.js';
import { ConfigError, NameError } from '../../src/core/errors.js';
import type { Config } from '../../src/core/types.js';

const config = (overrides: Partial<Config> = {}): Config => ({ ...defaultConfig(), ...overrides });

function resolve(files: string[], cfg: Config, registry = '', prefix = '') {
  return resolveImages(findImages(files, cfg), cfg, {
    registry,
    prefix,
    files: new FileIndex(files),
  });
}

describe('discovery conventions', () => {
  test.each<[string, string[], [string, string, string][]]>([
    [
      'seed 000: Dockerfile.<name> side by side share the folder as context',
      [
        'Dockerfile.builder',
        'Dockerfile.sdk',
        'Makefile',
        'resources/x.sh',
        'Dockerfile.builder.dockerignore',
      ],
      [
        ['builder', 'Dockerfile.builder', '.'],
        ['sdk', 'Dockerfile.sdk', '.'],
      ],
    ],
    [
      'seed 000 under a folder',
      ['tools/Dockerfile.builder', 'tools/Dockerfile.j2', 'tools/common/a'],
      [['builder', 'tools/Dockerfile.builder', 'tools']],
    ],
    [
      'seed 001: one folder per image',
      ['example-image/Dockerfile', 'other/Dockerfile', 'README.md', '.gitlab-ci.yml'],
      [
        ['example-image', 'example-image/Dockerfile', 'example-image'],
        ['other', 'other/Dockerfile', 'other'],
      ],
    ],
    [
      'seed 004: images/<name> with container-assets',
      [
        'images/foreman/Dockerfile',
        'images/foreman/container-assets/entrypoint.sh',
        'images/dynflow/Dockerfile',
      ],
      [
        ['foreman', 'images/foreman/Dockerfile', 'images/foreman'],
        ['dynflow', 'images/dynflow/Dockerfile', 'images/dynflow'],
      ],
    ],
    [
      'seed 003: buildpacks folders',
      ['apps/web/project.toml', 'apps/web/package.json', 'worker/project.toml'],
      [
        ['web', 'apps/web/project.toml', 'apps/web'],
        ['worker', 'worker/project.toml', 'worker'],
      ],
    ],
    [
      'a Dockerfile beside project.toml wins',
      ['svc/project.toml', 'svc/Dockerfile'],
      [['svc', 'svc/Dockerfile', 'svc']],
    ],
    [
      'names are made valid for repositories',
      ['images/My_App/Dockerfile', 'Web.Dockerfile'],
      [
        ['my_app', 'images/My_App/Dockerfile', 'images/My_App'],
        ['web', 'Web.Dockerfile', '.'],
      ],
    ],
    [
      'node_modules and deep folders are not searched',
      ['node_modules/x/Dockerfile', 'a/b/c/Dockerfile', 'Dockerfile'],
      [],
    ],
  ])('%s', (_what, files, expected) => {
    const found = findImages(files, config());
    expect(found.map((image) => [image.name, image.source, image.context])).toEqual(expected);
  });

  test('two images with one name is an error naming both paths', () => {
    expect(() => findImages(['a/api/Dockerfile', 'b/api/Dockerfile'], config())).toThrow(NameError);
    expect(() => findImages(['a/api/Dockerfile', 'b/api/Dockerfile'], config())).toThrow(
      /two images are named "api": a\/api\/Dockerfile and b\/api\/Dockerfile/,
    );
  });

  test('configured patterns replace the conventions, with a fixed context', () => {
    const cfg = config({
      discovery: [{ pattern: 'docker/Dockerfile.{name}', context: '.', kind: 'dockerfile' }],
    });
    const found = findImages(['docker/Dockerfile.api', 'api/Dockerfile'], cfg);
    expect(found).toEqual([
      { name: 'api', kind: 'dockerfile', source: 'docker/Dockerfile.api', context: '.' },
    ]);
  });

  test('exclude globs hide images', () => {
    const found = findImages(
      ['images/a/Dockerfile', 'test/fixture/Dockerfile'],
      config({ exclude: ['test/**'] }),
    );
    expect(found.map((image) => image.name)).toEqual(['a']);
  });

  test('** patterns reach any depth', () => {
    const cfg = config({ discovery: [{ pattern: '**/{name}/Dockerfile', kind: 'dockerfile' }] });
    expect(findImages(['a/b/c/svc/Dockerfile', 'top/Dockerfile'], cfg).map((i) => i.name)).toEqual([
      'svc',
      'top',
    ]);
  });

  test.each([
    ['My App', 'my-app'],
    ['__x__', 'x'],
    ['a.b', 'a.b'],
  ])('image name from %s is %s', (raw, name) => {
    expect(imageNameFrom(raw)).toBe(name);
  });

  test('matchesDiscovery names the image a deleted file belonged to', () => {
    expect(matchesDiscovery('images/gone/Dockerfile', config())).toBe('gone');
    expect(matchesDiscovery('images/gone/file.txt', config())).toBeUndefined();
  });
});

describe('resolveImages', () => {
  test.each([
    ['{registry}/{prefix}{image}', 'ghcr.io/acme', '', 'api', 'ghcr.io/acme/api'],
    [
      '{registry}/{prefix}{image}',
      'gcr.io/lattice-dev',
      'stable-debug-',
      'envoy',
      'gcr.io/lattice-dev/stable-debug-envoy',
    ],
    ['{registry}/{prefix}{image}', '', '', 'api', 'api'],
    ['{registry}/app/{image}', 'public.ecr.aws/alias', '', 'svc', 'public.ecr.aws/alias/app/svc'],
  ])(
    'template %s with %s, prefix %j, image %s gives %s',
    (template, registry, prefix, image, expected) => {
      expect(repositoryName(template, registry, prefix, image)).toBe(expected);
    },
  );

  test('config settings apply to discovered images and can define new ones', () => {
    const files = [
      'images/base/Dockerfile',
      'images/api/Dockerfile',
      'build/Dockerfile.tools',
      'src/main.go',
    ];
    const cfg = config({
      registry: 'ghcr.io/acme',
      images: {
        api: {
          buildArgs: { V: '1' },
          dependsOn: ['base'],
          watch: ['src/**'],
          target: 'prod',
          tags: ['sha'],
        },
        tools: { dockerfile: 'build/Dockerfile.tools', context: '.' },
      },
    });
    const specs = resolve(files, cfg, 'ghcr.io/acme');
    const api = specs.find((s) => s.name === 'api');
    expect(api).toMatchObject({
      context: 'images/api',
      dockerfile: 'images/api/Dockerfile',
      buildArgs: { V: '1' },
      dependsOn: ['base'],
      watch: ['src/**'],
      target: 'prod',
      tagRules: ['sha'],
      repository: 'ghcr.io/acme/api',
      builder: 'auto',
    });
    expect(specs.find((s) => s.name === 'tools')).toMatchObject({
      context: '.',
      dockerfile: 'build/Dockerfile.tools',
    });
    expect(specs.find((s) => s.name === 'base')?.tagRules).toEqual(['sha', 'ref-slug', 'latest']);
  });

  test('build-args for every image, overridden per image, with {registry} and {prefix} filled in', () => {
    const cfg = config({
      buildArgs: { REGISTRY: '{registry}', PREFIX: '{prefix}', V: '1' },
      images: { b: { buildArgs: { V: '2' } } },
    });
    const specs = resolve(['a/Dockerfile', 'b/Dockerfile'], cfg, '127.0.0.1:5000/x', 'dev-');
    expect(specs.map((s) => s.buildArgs)).toEqual([
      { REGISTRY: '127.0.0.1:5000/x', PREFIX: 'dev-', V: '1' },
      { REGISTRY: '127.0.0.1:5000/x', PREFIX: 'dev-', V: '2' },
    ]);
  });

  test('buildpacks images get the pack builder and no Dockerfile', () => {
    const [spec] = resolve(['web/project.toml'], config());
    expect(spec).toMatchObject({ kind: 'buildpacks', builder: 'pack', context: 'web' });
    expect(spec?.dockerfile).toBeUndefined();
  });

  test.each<[string, Config['images'], RegExp]>([
    [
      'a configured Dockerfile that does not exist',
      { api: { dockerfile: 'nope/Dockerfile' } },
      /Dockerfile nope\/Dockerfile does not exist/,
    ],
    [
      'a configured context that does not exist',
      { api: { context: 'nope' } },
      /build context nope does not exist/,
    ],
    [
      'an undiscovered image with nothing to build',
      { ghost: { target: 'x' } },
      /image "ghost" is not found by discovery/,
    ],
    [
      'a context outside the repository',
      { api: { context: '../elsewhere' } },
      /leaves the repository/,
    ],
  ])('%s is a config error', (_what, images, message) => {
    const files = ['images/api/Dockerfile'];
    expect(() => resolve(files, config({ images }))).toThrow(ConfigError);
    expect(() => resolve(files, config({ images }))).toThrow(message);
  });
});
