import { readFileSync } from 'node:fs';
import { ConfigError } from '../../src/core/errors.js';
import type { Config } from '../../src/core/types.js';
import {
  DEFAULT_DISCOVERY,
  DEFAULT_TAGS,
  DEFAULT_TEST_TIMEOUT_SECONDS,
  defaultConfig,
} from '../../src/config/defaults.js';
import { closest, parseConfig } from '../../src/config/parse-config.js';

const FILE = 'image-builder.yml';

function fixture(name: string): string {
  return readFileSync(new URL(`../fixtures/configs/${name}`, import.meta.url), 'utf8');
}

/** Lines joined, so a case's line numbers can be counted in the table. */
function yaml(...lines: string[]): string {
  return `${lines.join('\n')}\n`;
}

function parseError(text: string): ConfigError {
  try {
    parseConfig(text, FILE);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError, got a Config');
}

describe('parseConfig: the seed teams', () => {
  test.each<[string, string, (config: Config) => void]>([
    [
      '000: Dockerfile.<name> sharing the root context, fixed staging tag, ECR',
      'seed-000-os-infra.yml',
      (config) => {
        expect(config.registry).toBe('123456789012.dkr.ecr.us-west-2.amazonaws.com');
        expect(config.discovery).toEqual([
          { pattern: 'Dockerfile.{name}', context: '.', kind: 'dockerfile' },
        ]);
        expect(config.tags).toEqual(['staging']);
        expect(config.watch).toEqual(['common/**', 'Makefile']);
        expect(config.repository).toBe('{registry}/{prefix}{image}');
        expect(config.prefix).toBe('');
        expect(config.images).toEqual({});
      },
    ],
    [
      '001: folder per image by convention, kaniko, default tags, ECR of the account',
      'seed-001-gitlab-kaniko.yml',
      (config) => {
        expect(config.registry).toBe('ecr');
        expect(config.builder).toBe('kaniko');
        expect(config.defaultBranch).toBe('master');
        expect(config.tags).toEqual(['sha', 'ref-slug', 'latest']);
        expect(config.discovery).toEqual(DEFAULT_DISCOVERY);
        expect(config.discovery).toContainEqual({
          pattern: '{name}/Dockerfile',
          kind: 'dockerfile',
        });
      },
    ],
    [
      '002: stable channel gives the stable- prefix; debug variants shared by an anchor',
      'seed-002-channels.yml',
      (config) => {
        expect(config.registry).toBe('gcr.io/lattice-dev');
        expect(config.channel).toBe('stable');
        expect(config.prefix).toBe('stable-');
        const debug = { buildArgs: { WITH_BUSYBOX: '1' } };
        expect(config.images['envoy-prepare']?.variants).toEqual({ debug });
        expect(config.images['kubernetes-bootstrap']?.variants).toEqual({ debug });
        expect(config.images['api-server']).toMatchObject({
          target: 'prod',
          variants: { debug: { target: 'debug', buildArgs: {} } },
        });
      },
    ],
    [
      '003: buildpacks found by project.toml, pack, ECR Public, name/sub-name repositories',
      'seed-003-buildpacks.yml',
      (config) => {
        expect(config.registry).toBe('public.ecr.aws/acme');
        expect(config.builder).toBe('pack');
        expect(config.tags).toEqual(['latest', 'sha']);
        expect(config.discovery).toEqual([
          { pattern: '{name}/project.toml', kind: 'buildpacks' },
          { pattern: 'services/{name}/project.toml', kind: 'buildpacks' },
        ]);
        expect(config.images.billing?.repository).toBe('{registry}/payments/{image}');
      },
    ],
    [
      '004: images/<name>, depends-on, watch outside the image folder, smoke tests, test tag',
      'seed-004-foreman.yml',
      (config) => {
        expect(config.registry).toBe('quay.io/foreman');
        expect(config.builder).toBe('buildah');
        expect(config.tags).toEqual(['test']);
        expect(config.discovery).toEqual([
          { pattern: 'images/{name}/Dockerfile', kind: 'dockerfile' },
        ]);
        expect(config.images.foreman).toEqual({
          watch: ['foreman/**'],
          test: { command: './tests/smoke.sh "$IMAGE"', timeoutSeconds: 600 },
          position: { file: FILE, line: 12, column: 3 },
        });
        expect(config.images.dynflow).toEqual({
          dependsOn: ['foreman'],
          watch: ['dynflow/**', 'foreman/lib/dynflow/**'],
          test: { run: 'dynflow --version', timeoutSeconds: DEFAULT_TEST_TIMEOUT_SECONDS },
          position: { file: FILE, line: 17, column: 3 },
        });
      },
    ],
  ])('seed %s', (_name, file, check) => {
    const config = parseConfig(fixture(file), FILE);
    expect(config.file).toBe(FILE);
    check(config);
  });
});

describe('parseConfig: every key', () => {
  const config = parseConfig(fixture('full.yml'), FILE);

  test('global settings become camelCase fields', () => {
    expect(config).toMatchObject({
      file: FILE,
      registry: '123456789012.dkr.ecr.eu-west-1.amazonaws.com',
      repository: '{registry}/{prefix}{image}',
      channel: 'stable',
      prefix: '',
      builder: 'auto',
      tags: ['sha', 'ref-slug', 'latest', '{{ref-slug}}-{{sha-short}}'],
      shaShortLength: 8,
      defaultBranch: 'main',
      maxParallel: 4,
      watch: ['common/**', 'Makefile'],
      exclude: ['test/**'],
    });
  });

  test('string discovery entries are expanded; kind follows project.toml', () => {
    expect(config.discovery).toEqual([
      { pattern: 'images/{name}/Dockerfile', kind: 'dockerfile' },
      { pattern: 'Dockerfile.{name}', context: '.', kind: 'dockerfile' },
      { pattern: '{name}/project.toml', kind: 'buildpacks' },
    ]);
  });

  test('an image with every key', () => {
    expect(config.images.api).toEqual({
      context: '.',
      dockerfile: 'images/api/Dockerfile',
      target: 'prod',
      buildArgs: { VERSION: '1.2', EMPTY: '' },
      platforms: ['linux/amd64', 'linux/arm64'],
      dependsOn: ['base'],
      watch: ['src/api/**'],
      builder: 'buildah',
      repository: '{registry}/custom/{image}',
      tags: ['sha', 'staging'],
      test: { run: 'api --version', timeoutSeconds: 120 },
      variants: {
        debug: { target: 'debug', buildArgs: { DEBUG: '1' } },
        slim: { buildArgs: {}, tagSuffix: '-slim' },
      },
      position: { file: FILE, line: 25, column: 3 },
    });
    expect(config.images.base).toEqual({ position: { file: FILE, line: 24, column: 3 } });
  });

  test('registries keep their settings, insecure defaulting to false', () => {
    expect(config.registries).toEqual({ 'localhost:5000': { insecure: true } });
  });
});

describe('parseConfig: build-args for every image and ECR settings', () => {
  test('are read with their defaults', () => {
    const config = parseConfig(
      yaml(
        'build-args:',
        "  REGISTRY: '{registry}'",
        'ecr:',
        '  create-repositories: true',
        '  tag-mutability: IMMUTABLE',
        `  lifecycle-policy: '{"rules":[]}'`,
      ),
      FILE,
    );
    expect(config.buildArgs).toEqual({ REGISTRY: '{registry}' });
    expect(config.ecr).toEqual({
      createRepositories: true,
      scanOnPush: true,
      tagMutability: 'IMMUTABLE',
      lifecyclePolicy: '{"rules":[]}',
    });
  });

  test.each([
    [
      yaml('ecr:', '  tag-mutability: frozen'),
      2,
      /ecr\.tag-mutability: expected MUTABLE or IMMUTABLE/,
    ],
    [yaml('ecr:', '  create: true'), 2, /unknown key "create" in ecr/],
    [yaml('build-args:', '  V: 1.10'), 2, /quote it/],
  ])('%j is refused at line %d', (text, line, message) => {
    expect(() => parseConfig(text, FILE)).toThrow(message);
    expect(() => parseConfig(text, FILE)).toThrow(new RegExp(`^${FILE}:${line}`));
  });
});

describe('parseConfig: defaults and derived values', () => {
  test.each([
    ['an empty file', ''],
    ['only comments', fixture('comments-only.yml')],
    ['a lone document marker', '---\n'],
    ['an explicit null', '~\n'],
  ])('%s gives the defaults', (_name, text) => {
    expect(parseConfig(text, FILE)).toEqual({ ...defaultConfig(), file: FILE });
  });

  test('the defaults', () => {
    expect(defaultConfig()).toEqual({
      registry: '',
      repository: '{registry}/{prefix}{image}',
      channel: '',
      prefix: '',
      builder: 'auto',
      tags: DEFAULT_TAGS,
      shaShortLength: 7,
      discovery: DEFAULT_DISCOVERY,
      watch: [],
      exclude: [],
      buildArgs: {},
      registries: {},
      ecr: { createRepositories: false, scanOnPush: true },
      cache: 'none',
      buildx: {},
      kaniko: {},
      pack: { env: {} },
      publish: { mode: 'per-image' },
      variants: {},
      images: {},
    });
    expect(DEFAULT_DISCOVERY.map((entry) => entry.pattern)).toEqual([
      'images/{name}/Dockerfile',
      '*/{name}/Dockerfile',
      '{name}/Dockerfile',
      'Dockerfile.{name}',
      '*/Dockerfile.{name}',
      '{name}.Dockerfile',
      '{name}/project.toml',
      '*/{name}/project.toml',
    ]);
  });

  test.each([
    ['channel: stable', 'stable', 'stable-'],
    ['channel: user', 'user', ''],
    ['channel: stable\nprefix: team/', 'stable', 'team/'],
    ['channel: stable\nprefix: ""', 'stable', ''],
    ['prefix: dev-', '', 'dev-'],
    ['registry: ghcr.io/acme', '', ''],
  ])('%j gives channel %j and prefix %j', (text, channel, prefix) => {
    const config = parseConfig(text, FILE);
    expect(config.channel).toBe(channel);
    expect(config.prefix).toBe(prefix);
  });

  test.each([
    ['registry: ghcr.io/acme', 'ghcr.io/acme'],
    ['registry: public.ecr.aws/alias', 'public.ecr.aws/alias'],
    ['registry: localhost:5000', 'localhost:5000'],
    ['registry: ecr', 'ecr'],
    ['registry: ""', ''],
  ])('%j is a registry', (text, registry) => {
    expect(parseConfig(text, FILE).registry).toBe(registry);
  });

  test.each([
    ['sha-short'],
    ['release'],
    ['v1.2_rc-3'],
    ['{{ref-slug}}-{{sha-short}}'],
    ['{{ branch }}-{{timestamp}}'],
    ['{{tag}}'],
    ['{{ref}}.{{date}}'],
  ])('%j is a tag rule', (rule) => {
    expect(parseConfig(`tags: ["${rule}"]`, FILE).tags).toEqual([rule]);
  });

  test('discovery patterns may use * and ** folders', () => {
    const config = parseConfig(
      yaml('discovery:', '  - "**/docker/{name}.Dockerfile"', '  - "apps/*/{name}/Dockerfile"'),
      FILE,
    );
    expect(config.discovery.map((entry) => entry.pattern)).toEqual([
      '**/docker/{name}.Dockerfile',
      'apps/*/{name}/Dockerfile',
    ]);
  });

  test('paths are normalised: no ./ and no trailing /', () => {
    const config = parseConfig(
      yaml(
        'watch: ["./common/**"]',
        'discovery:',
        '  - pattern: ./docker/{name}/Dockerfile',
        '    context: ./',
        'images:',
        '  api:',
        '    context: ./src/api/',
        '    dockerfile: src//api/Dockerfile',
      ),
      FILE,
    );
    expect(config.watch).toEqual(['common/**']);
    expect(config.discovery).toEqual([
      { pattern: 'docker/{name}/Dockerfile', context: '.', kind: 'dockerfile' },
    ]);
    expect(config.images.api).toMatchObject({
      context: 'src/api',
      dockerfile: 'src/api/Dockerfile',
    });
  });

  test('an empty discovery list finds nothing (only the listed images)', () => {
    expect(parseConfig('discovery: []', FILE).discovery).toEqual([]);
  });

  test('an image or variant with no settings is declared with none', () => {
    const config = parseConfig(yaml('images:', '  api:', '    variants:', '      debug:'), FILE);
    expect(config.images.api).toEqual({
      variants: { debug: { buildArgs: {} } },
      position: { file: FILE, line: 2, column: 3 },
    });
  });

  test('top-level variants apply to every image, beside the per-image ones', () => {
    const config = parseConfig(
      yaml(
        'variants:',
        '  debug:',
        '    target: debug',
        '  race:',
        '    build-args: { RACE: "1" }',
        '    tag-suffix: -race',
        'images:',
        '  api:',
        '    variants:',
        '      debug: { target: api-debug }',
      ),
      FILE,
    );
    expect(config.variants).toEqual({
      debug: { target: 'debug', buildArgs: {} },
      race: { buildArgs: { RACE: '1' }, tagSuffix: '-race' },
    });
    expect(config.images.api?.variants).toEqual({
      debug: { target: 'api-debug', buildArgs: {} },
    });
    expect(Object.isFrozen(config.variants.race?.buildArgs)).toBe(true);
  });

  test('a top-level variant is checked like an image one', () => {
    expect(() =>
      parseConfig(yaml('variants:', '  debug:', '    tag-suffix: "-de bug"'), FILE),
    ).toThrow(/variants\.debug\.tag-suffix/);
    expect(() => parseConfig(yaml('variants:', '  debug:', '    stage: debug'), FILE)).toThrow(
      ConfigError,
    );
  });

  test('merge keys share settings between images', () => {
    const config = parseConfig(
      yaml(
        'images:',
        '  api: &common',
        '    platforms: [linux/amd64, linux/arm64]',
        '    build-args: { BASE: "3.20" }',
        '  worker:',
        '    <<: *common',
        '    target: worker',
      ),
      FILE,
    );
    expect(config.images.worker).toMatchObject({
      platforms: ['linux/amd64', 'linux/arm64'],
      buildArgs: { BASE: '3.20' },
      target: 'worker',
    });
  });

  test('a build-arg named __proto__ stays a build-arg', () => {
    const config = parseConfig(
      yaml('images:', '  api:', '    build-args: { __proto__: "x" }'),
      FILE,
    );
    const args = config.images.api?.buildArgs ?? {};
    expect(Object.getPrototypeOf(args)).toBe(Object.prototype);
    expect(Object.keys(args)).toEqual(['__proto__']);
  });

  test('the result is deeply frozen', () => {
    const config = parseConfig(fixture('full.yml'), FILE);
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.tags)).toBe(true);
    expect(Object.isFrozen(config.discovery[0])).toBe(true);
    expect(Object.isFrozen(config.images.api?.buildArgs)).toBe(true);
    expect(Object.isFrozen(config.images.api?.variants?.debug)).toBe(true);
    expect(Object.isFrozen(config.images.api?.position)).toBe(true);
    expect(() => {
      (config.tags as string[]).push('x');
    }).toThrow(TypeError);
    // The shared defaults are not handed out to be frozen or changed through a config.
    expect(Object.isFrozen(DEFAULT_DISCOVERY)).toBe(true);
    expect(defaultConfig().discovery).not.toBe(DEFAULT_DISCOVERY);
  });
});

describe('parseConfig: publish', () => {
  test('staging tag and mode', () => {
    const config = parseConfig(yaml('publish:', '  staging-tag: test', '  mode: atomic'), FILE);
    expect(config.publish).toEqual({ stagingTag: 'test', mode: 'atomic' });
  });

  test('mode defaults to per-image; no staging tag without the key', () => {
    expect(parseConfig(yaml('publish:', '  staging-tag: staging'), FILE).publish).toEqual({
      stagingTag: 'staging',
      mode: 'per-image',
    });
    expect(parseConfig(yaml('publish: {}'), FILE).publish).toEqual({ mode: 'per-image' });
  });

  test.each<[string, string, string]>([
    ['unknown mode', yaml('publish:', '  mode: all'), 'publish.mode: expected per-image or atomic'],
    ['invalid tag', yaml('publish:', '  staging-tag: -x'), 'publish.staging-tag: expected a tag'],
    ['unknown key', yaml('publish:', '  stage-tag: x'), 'did you mean "staging-tag"?'],
  ])('%s', (_name, text, message) => {
    const error = parseError(text);
    expect(error.message).toContain(message);
    expect(error.position?.line).toBe(2);
  });
});

describe('parseConfig: mistakes point at their line', () => {
  test.each<[string, string, number, string]>([
    // YAML itself
    [
      'broken flow list',
      yaml('images:', '  api:', '    tags: [sha', 'builder: kaniko'),
      4,
      'invalid YAML',
    ],
    ['tab indentation', yaml('images:', '\tapi: {}'), 2, 'a tab is used for indentation'],
    [
      'duplicate key',
      yaml('registry: ghcr.io/a', 'tags: [sha]', 'registry: ghcr.io/b'),
      3,
      'duplicate key "registry"',
    ],
    [
      'duplicate image',
      yaml('images:', '  api: {}', '  web: {}', '  api: {}'),
      4,
      'duplicate key "api"',
    ],
    [
      'two documents',
      yaml('registry: ecr', '---', 'registry: ecr'),
      2,
      'more than one YAML document',
    ],
    ['unknown tag', yaml('registry: !Ref Registry'), 1, 'unresolved tag: !Ref'],
    ['alias without anchor', yaml('images:', '  api: *base'), 2, 'unresolved alias'],
    // the shape of the file
    [
      'a list at the top level',
      yaml('- api', '- web'),
      1,
      'expected a mapping of settings (key: value lines) at the top level, got a list',
    ],
    [
      'a word at the top level',
      yaml('# note', 'hello'),
      2,
      'at the top level, got a string ("hello")',
    ],
    [
      'unknown top-level key',
      yaml('registry: ecr', 'tgas: [sha]'),
      2,
      'unknown key "tgas" at the top level (did you mean "tags"?; allowed: registry, repository',
    ],
    [
      'image settings at the top level',
      yaml('api:', '  context: .'),
      1,
      'unknown key "api" at the top level (image settings go under images:',
    ],
    [
      'unknown image key',
      yaml('images:', '  api:', '    context: .', '    tgas: [sha]'),
      4,
      'unknown key "tgas" in images.api (did you mean "tags"?; allowed: context, dockerfile, target, build-args',
    ],
    [
      'camelCase image key',
      yaml('images:', '  api:', '    dependsOn: [base]'),
      3,
      '(did you mean "depends-on"?',
    ],
    [
      'unknown test key',
      yaml('images:', '  api:', '    test:', '      run: x', '      timeout-seconds: 5'),
      5,
      'unknown key "timeout-seconds" in images.api.test (did you mean "timeout"?',
    ],
    // types and values
    [
      'platforms as a string',
      yaml('images:', '  api:', '    platforms: linux/amd64'),
      3,
      'images.api.platforms: expected a list of strings like linux/amd64, got a string',
    ],
    [
      'bad platform',
      yaml('images:', '  api:', '    platforms:', '      - linux/amd64', '      - arm64'),
      5,
      'images.api.platforms[1]: expected a platform such as linux/amd64',
    ],
    [
      'uppercase image name',
      yaml('images:', '  base: {}', '  Api: {}'),
      3,
      'images: invalid name "Api": expected an image name: lowercase letters and digits',
    ],
    [
      'build-arg number',
      yaml('images:', '  api:', '    build-args:', '      VERSION: 1.10'),
      4,
      'images.api.build-args.VERSION: expected a string, got the number 1.10, which YAML reads as 1.1; quote it to keep it as text: "1.10"',
    ],
    [
      'build-arg boolean in a variant',
      yaml(
        'images:',
        '  api:',
        '    variants:',
        '      debug:',
        '        build-args: { DEBUG: true }',
      ),
      5,
      'images.api.variants.debug.build-args.DEBUG: expected a string, got the boolean true',
    ],
    [
      'build-arg without value',
      yaml('images:', '  api:', '    build-args:', '      VERSION:'),
      4,
      'expected a string, got nothing (an empty value)',
    ],
    [
      'bad build-arg name',
      yaml('images:', '  api:', '    build-args:', '      1X: "a"'),
      4,
      'images.api.build-args: invalid name "1X"',
    ],
    [
      'unknown builder',
      yaml('builder: kanico'),
      1,
      'builder: expected one of auto, buildx, kaniko, buildah, pack, got "kanico" (did you mean "kaniko"?)',
    ],
    [
      'sha-short-length too small',
      yaml('sha-short-length: 3'),
      1,
      'sha-short-length: expected a whole number from 4 to 40, got the number 3',
    ],
    [
      'max-parallel zero',
      yaml('registry: ecr', 'max-parallel: 0'),
      2,
      'max-parallel: expected a whole number, at least 1',
    ],
    [
      'timeout not a number',
      yaml('images:', '  api:', '    test:', '      run: x', '      timeout: 5m'),
      5,
      'images.api.test.timeout: expected a whole number of seconds, at least 1, got a string ("5m")',
    ],
    ['empty tag list', yaml('tags: []'), 1, 'tags: expected a non-empty list of tag rules'],
    [
      'tag listed twice',
      yaml('tags:', '  - sha', '  - latest', '  - sha'),
      4,
      'tags: "sha" is listed twice',
    ],
    ['bad tag template', yaml('tags: ["{{commit}}"]'), 1, 'tags[0]: expected a tag rule'],
    ['uppercase channel', yaml('channel: Stable'), 1, 'channel: expected a channel name'],
    [
      'registry without value',
      yaml('registry:'),
      1,
      'registry: expected a registry such as ghcr.io/acme or ecr, got nothing',
    ],
    [
      'bad discovery kind',
      yaml('discovery:', '  - pattern: apps/{name}/Dockerfile', '    kind: docker'),
      3,
      'discovery[0].kind: expected dockerfile or buildpacks, got "docker"',
    ],
    [
      'discovery entry without pattern',
      yaml('discovery:', '  - images/{name}/Dockerfile', '  - context: .'),
      3,
      'discovery[1]: missing key "pattern"',
    ],
    // run / command
    [
      'both run and command',
      yaml(
        'images:',
        '  api:',
        '    test:',
        '      run: api --version',
        '      command: ./smoke.sh',
      ),
      3,
      'images.api.test: expected a mapping with exactly one of run (inside the image) or command (on the host), got both run and command',
    ],
    [
      'neither run nor command',
      yaml('images:', '  api:', '    test: { timeout: 10 }'),
      3,
      'got neither',
    ],
    [
      'test as a string',
      yaml('images:', '  api:', '    test: api --version'),
      3,
      'images.api.test: expected a mapping with exactly one of run',
    ],
    // paths and patterns
    [
      'pattern without {name}',
      yaml('discovery:', '  - images/Dockerfile'),
      2,
      'discovery[0]: expected a path pattern relative to the repository root with {name} exactly once',
    ],
    [
      'pattern with {name} twice',
      yaml('discovery:', '  - pattern: "{name}/{name}.Dockerfile"'),
      2,
      'discovery[0].pattern: expected a path pattern',
    ],
    ['pattern climbing out', yaml('discovery:', '  - ../images/{name}/Dockerfile'), 2, 'no ".."'],
    [
      'context climbing out',
      yaml('images:', '  api:', '    context: ../shared'),
      3,
      'images.api.context: expected a path relative to the repository root, such as images/api (no leading "/", no ".."',
    ],
    [
      'context climbing out midway',
      yaml('images:', '  api:', '    context: images/../../x'),
      3,
      'images.api.context: expected a path relative to the repository root',
    ],
    [
      'absolute dockerfile',
      yaml('images:', '  api:', '    dockerfile: /src/Dockerfile'),
      3,
      'images.api.dockerfile: expected a path relative to the repository root',
    ],
    [
      'backslashes',
      yaml('images:', '  api:', '    dockerfile: images\\api\\Dockerfile'),
      3,
      '"/" as separator',
    ],
    [
      'watch climbing out',
      yaml('images:', '  api:', '    watch:', '      - src/**', '      - ../lib/**'),
      5,
      'images.api.watch[1]: expected a glob relative to the repository root',
    ],
    [
      'absolute global watch',
      yaml('watch: [/etc/**]'),
      1,
      'watch[0]: expected a glob relative to the repository root',
    ],
    [
      'repository without {image}',
      yaml('repository: "{registry}/{prefix}app"'),
      1,
      'repository: expected a repository template containing {image}',
    ],
    [
      'unknown placeholder',
      yaml('images:', '  api:', '    repository: "{registry}/{team}/{image}"'),
      3,
      'images.api.repository: expected a repository template',
    ],
    [
      'self depends-on',
      yaml('images:', '  api:', '    depends-on:', '      - base', '      - api'),
      5,
      'images.api.depends-on[1]: image "api" cannot depend on itself',
    ],
    [
      'depends-on a bad name',
      yaml('images:', '  api:', '    depends-on: [Base]'),
      3,
      'images.api.depends-on[0]: expected an image name',
    ],
  ])('%s', (_name, text, line, fragment) => {
    const error = parseError(text);
    expect(error.message).toContain(fragment);
    expect(error.position).toMatchObject({ file: FILE, line });
    expect(error.message.startsWith(`${FILE}:${line}:`)).toBe(true);
  });

  test('the earliest mistake in the file is reported, whatever the schema checks first', () => {
    const text = yaml(
      'images:',
      '  api:',
      '    platforms: linux/amd64',
      'tgas: [sha]',
      'builder: kanico',
    );
    expect(parseError(text).position?.line).toBe(3);
    expect(parseError(yaml('zzz: 1', 'images:', '  API: {}')).position?.line).toBe(1);
  });

  test('a value at the end of a long line gets its column', () => {
    const error = parseError(yaml('images:', '  api:', '    build-args: { A: "x", B: 2 }'));
    expect(error.position).toEqual({ file: FILE, line: 3, column: 30 });
  });

  test('the file name given is the one in the position', () => {
    const error = (() => {
      try {
        parseConfig('tgas: []', 'tools/image-builder.yaml');
      } catch (caught) {
        return caught as ConfigError;
      }
      throw new Error('no error');
    })();
    expect(error.message).toMatch(/^tools\/image-builder\.yaml:1:1: unknown key "tgas"/);
  });
});

describe('closest', () => {
  const keys = ['tags', 'test', 'target', 'depends-on', 'build-args', 'dockerfile', 'context'];
  test.each([
    ['tgas', 'tags'],
    ['tag', 'tags'],
    ['dependsOn', 'depends-on'],
    ['depends_on', 'depends-on'],
    ['buildargs', 'build-args'],
    ['Dockerfile', 'dockerfile'],
    ['contxt', 'context'],
    ['timeout-seconds', undefined],
    ['dockerfile-path', 'dockerfile'],
    ['registry', undefined],
    ['x', undefined],
  ])('%s -> %s', (word, expected) => {
    expect(closest(word, keys)).toBe(expected);
  });
});

describe('parseConfig: cache and backend settings', () => {
  test('are read into camelCase fields', () => {
    const config = parseConfig(
      yaml(
        'cache: registry',
        'buildx:',
        '  provenance: mode=max',
        '  sbom: false',
        'kaniko:',
        '  executor: /busybox/kaniko/executor',
        'pack:',
        '  builder: paketobuildpacks/builder:0.2.326-full',
        "  lifecycle-version: '0.16.0'",
        '  env:',
        "    BP_JVM_VERSION: '17'",
      ),
      FILE,
    );
    expect(config.cache).toBe('registry');
    expect(config.buildx).toEqual({ provenance: 'mode=max', sbom: 'false' });
    expect(config.kaniko).toEqual({ executor: '/busybox/kaniko/executor' });
    expect(config.pack).toEqual({
      builder: 'paketobuildpacks/builder:0.2.326-full',
      lifecycleVersion: '0.16.0',
      env: { BP_JVM_VERSION: '17' },
    });
  });

  test.each([
    [yaml('cache: s3'), 1, /cache: expected none, registry or gha/],
    [yaml('buildx:', '  provenance: 3'), 2, /buildx\.provenance: .*boolean/],
    [yaml('buildx:', '  attest: true'), 2, /unknown key "attest" in buildx/],
    [yaml('kaniko:', '  executor: ""'), 2, /kaniko\.executor: expected the executor's path/],
    [yaml('pack:', '  lifecycle-version: latest'), 2, /expected a lifecycle version/],
    [yaml('pack:', '  env:', '    BP_JVM_VERSION: 17'), 3, /quote it/],
  ])('%j is refused at line %d', (text, line, message) => {
    expect(() => parseConfig(text, FILE)).toThrow(message);
    expect(() => parseConfig(text, FILE)).toThrow(new RegExp(`^${FILE}:${line}`));
  });
});
