import { NameError } from '../../src/core/errors.js';
import type { PlannedImage } from '../../src/core/plan.js';
import type { ImageSpec, VariantConfig } from '../../src/core/types.js';
import type { VariantNaming } from '../../src/core/variants.js';
import {
  expandVariants,
  plainImageName,
  variantPrefix,
  variantsOf,
} from '../../src/core/variants.js';

const SHA = 'a'.repeat(40);

function planned(name: string, parents: string[] = [], extra: Partial<PlannedImage> = {}) {
  const image: PlannedImage = {
    name,
    kind: 'dockerfile',
    repository: `reg.example/stable-${name}`,
    context: name,
    dockerfile: `${name}/Dockerfile`,
    target: 'prod',
    buildArgs: { A: '1' },
    platforms: [],
    builder: 'buildah',
    parents,
    rebuiltParents: parents,
    level: parents.length,
    tags: [SHA, 'main', 'latest'],
    reasons: ['changed'],
    reasonDetails: [{ kind: 'requested' }],
    ...extra,
  };
  return image;
}

function spec(name: string, variants: Record<string, VariantConfig> = {}): ImageSpec {
  return {
    name,
    kind: 'dockerfile',
    source: `${name}/Dockerfile`,
    context: name,
    dockerfile: `${name}/Dockerfile`,
    buildArgs: {},
    platforms: [],
    dependsOn: [],
    watch: [],
    builder: 'buildah',
    repository: `reg.example/stable-${name}`,
    tagRules: ['sha'],
    variants,
  };
}

function naming(prefix: string, template = '{registry}/{prefix}{image}'): VariantNaming {
  return { registry: 'reg.example', prefix, repositoryTemplate: () => template, sha: SHA };
}

const DEBUG: VariantConfig = { target: 'debug', buildArgs: { B: '2' } };

describe('variantPrefix', () => {
  test.each([
    ['stable-', 'stable-debug-'],
    ['kevin-rosendahl-bot-', 'kevin-rosendahl-bot-debug-'],
    ['', 'debug-'],
    ['team/', 'team/debug-'],
    ['literal', 'literal-debug-'],
  ])('%j → %j', (prefix, expected) => {
    expect(variantPrefix(prefix, 'debug')).toBe(expected);
  });
});

describe('expandVariants', () => {
  test.each([
    ['stable-', 'reg.example/stable-debug-api'],
    ['kevin-', 'reg.example/kevin-debug-api'],
    ['', 'reg.example/debug-api'],
  ])('channel naming: prefix %j puts api+debug in %s', (prefix, repository) => {
    const images = expandVariants({
      images: [planned('api')],
      specs: [spec('api', { debug: DEBUG })],
      naming: naming(prefix),
    });
    expect(images.map((image) => image.name)).toEqual(['api', 'api+debug']);
    expect(images[1]).toMatchObject({
      name: 'api+debug',
      variant: 'debug',
      baseImage: 'api',
      repository,
      target: 'debug',
      buildArgs: { A: '1', B: '2' },
      tags: [SHA, 'main', 'latest'],
    });
    expect(images[1]?.tagSuffix).toBeUndefined();
    expect(plainImageName('api+debug')).toBe('api');
  });

  test('tag-suffix mode: the image repository, every tag suffixed; target kept when not set', () => {
    const [, variant] = expandVariants({
      images: [planned('api')],
      specs: [spec('api', { debug: { buildArgs: { DEBUG: '1' }, tagSuffix: '-debug' } })],
      naming: naming('stable-'),
    });
    expect(variant).toMatchObject({
      repository: 'reg.example/stable-api',
      target: 'prod',
      tagSuffix: '-debug',
      tags: [`${SHA}-debug`, 'main-debug', 'latest-debug'],
    });
  });

  test('parents: the same variant of the parent when it has one, else the plain parent; build order', () => {
    const images = expandVariants({
      images: [planned('base'), planned('tools'), planned('app', ['base', 'tools'])],
      specs: [spec('base'), spec('tools', {}), spec('app')],
      variants: {},
      naming: naming('stable-'),
    });
    expect(images.map((image) => image.name)).toEqual(['base', 'tools', 'app']);

    const specs = [spec('base', { debug: DEBUG }), spec('tools'), spec('app', { debug: DEBUG })];
    const expanded = expandVariants({
      images: [planned('base'), planned('tools'), planned('app', ['base', 'tools'])],
      specs,
      naming: naming('stable-'),
    });
    expect(expanded.map((image) => image.name)).toEqual([
      'base',
      'base+debug',
      'tools',
      'app',
      'app+debug',
    ]);
    const app = expanded[4] as PlannedImage;
    expect(app.parents).toEqual(['base+debug', 'tools']);
    expect(app.rebuiltParents).toEqual(['base+debug', 'tools']);
    expect(app.variantParents).toEqual({
      'base+debug': { repository: 'reg.example/stable-debug-base', tag: SHA },
    });
  });

  test('top-level variants apply to every image; an image’s own one replaces it', () => {
    const images = expandVariants({
      images: [planned('base'), planned('app', ['base'])],
      specs: [spec('base'), spec('app', { debug: { target: 'app-debug', buildArgs: {} } })],
      variants: { debug: DEBUG },
      naming: naming('stable-'),
    });
    expect(images.map((image) => [image.name, image.target])).toEqual([
      ['base', 'prod'],
      ['base+debug', 'debug'],
      ['app', 'prod'],
      ['app+debug', 'app-debug'],
    ]);
    expect(variantsOf(spec('x', { race: { buildArgs: {} } }), { debug: DEBUG })).toEqual({
      debug: DEBUG,
      race: { buildArgs: {} },
    });
  });

  test('a parent not rebuilt in this run stays a parent, not a rebuilt one', () => {
    const images = expandVariants({
      images: [planned('app', ['base'], { rebuiltParents: [] })],
      specs: [spec('base', { debug: DEBUG }), spec('app', { debug: DEBUG })],
      naming: naming('stable-'),
    });
    expect(images[1]).toMatchObject({ parents: ['base+debug'], rebuiltParents: [] });
  });

  test.each([
    [
      'a variant name a repository cannot hold',
      { 'De bug': DEBUG },
      naming('stable-'),
      /repository/,
    ],
    [
      'a tag suffix that makes a tag too long',
      { debug: { buildArgs: {}, tagSuffix: '-' + 'x'.repeat(100) } },
      naming('stable-'),
      /tag/,
    ],
    [
      'a template without {prefix} (the variant would overwrite the image)',
      { debug: DEBUG },
      { ...naming('stable-', '{registry}/fixed-{image}') },
      /tag-suffix/,
    ],
  ])('rejects %s', (_what, variants, names, message) => {
    const image = planned('api', [], {
      repository: names.repositoryTemplate('api').includes('{prefix}')
        ? 'reg.example/stable-api'
        : 'reg.example/fixed-api',
    });
    const expand = () =>
      expandVariants({ images: [image], specs: [spec('api', variants)], naming: names });
    expect(expand).toThrow(NameError);
    expect(expand).toThrow(message);
  });
});
