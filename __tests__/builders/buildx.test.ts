// BuildKit through `docker buildx build`: the whole argv per case, then runs through the real
// exec against a recording fake `docker` (no Docker engine here) that writes the metadata
// file buildx would write.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import {
  BuildxBuilder,
  buildxBuildArgs,
  buildxCacheArgs,
  buildxConfigDir,
  buildxEnv,
  buildxInspectArgs,
  buildxMetadataFile,
  buildxSettings,
  DEFAULT_BUILDX_SETTINGS,
  parseBuildxInspect,
  type BuildxSettings,
} from '../../src/builders/buildx.js';
import { BuildError } from '../../src/builders/errors.js';
import type { BuildRequest } from '../../src/builders/types.js';
import { UserError } from '../../src/core/errors.js';
import { FakeTools, secretForms, writeAuthFile, type FakeResponse } from '../support/fake-tools.js';

const REF = 'registry.example:5000/acme/app:abc123';
const SETTINGS: BuildxSettings = { ...DEFAULT_BUILDX_SETTINGS };

function request(overrides: Partial<BuildRequest> = {}): BuildRequest {
  return {
    image: 'app',
    contextDir: '/repo/app',
    dockerfile: '/repo/app/Dockerfile',
    buildArgs: {},
    labels: {},
    platforms: [],
    pushRef: REF,
    authFile: '/run/secrets/auth/config.json',
    insecure: false,
    workDir: '/job/app',
    ...overrides,
  };
}

const HEAD = ['buildx', 'build', '--push', '--metadata-file', '/job/app/metadata.json'];
const FILE = ['-f', '/repo/app/Dockerfile', '--tag', REF];

describe('buildxBuildArgs', () => {
  it.each<[string, Partial<BuildRequest>, Partial<BuildxSettings>, string[]]>([
    ['one image for the builder platform', {}, {}, [...HEAD, ...FILE, '/repo/app']],
    [
      'one named platform and a target',
      { platforms: ['linux/arm64'], target: 'runtime' },
      {},
      [...HEAD, ...FILE, '--target', 'runtime', '--platform', 'linux/arm64', '/repo/app'],
    ],
    [
      'several platforms: one comma-separated --platform',
      { platforms: ['linux/amd64', 'linux/arm64', 'linux/arm/v7'] },
      {},
      [...HEAD, ...FILE, '--platform', 'linux/amd64,linux/arm64,linux/arm/v7', '/repo/app'],
    ],
    [
      'build-args with spaces and "=" stay one argument each, sorted by name',
      { buildArgs: { VERSION: '1.2 beta', FLAGS: 'a=b c=d', EMPTY: '' } },
      {},
      [
        ...HEAD,
        ...FILE,
        '--build-arg',
        'EMPTY=',
        '--build-arg',
        'FLAGS=a=b c=d',
        '--build-arg',
        'VERSION=1.2 beta',
        '/repo/app',
      ],
    ],
    [
      'labels after build-args, sorted; annotations on the manifest when asked for',
      {
        buildArgs: { A: '1' },
        labels: { 'org.opencontainers.image.title': 'app', description: 'an "app"; & more' },
      },
      { annotations: true },
      [
        ...HEAD,
        ...FILE,
        '--build-arg',
        'A=1',
        '--label',
        'description=an "app"; & more',
        '--label',
        'org.opencontainers.image.title=app',
        '--annotation',
        'description=an "app"; & more',
        '--annotation',
        'org.opencontainers.image.title=app',
        '/repo/app',
      ],
    ],
    [
      'annotations on the index too for several platforms',
      { platforms: ['linux/amd64', 'linux/arm64'], labels: { a: 'b' } },
      { annotations: true },
      [
        ...HEAD,
        ...FILE,
        '--platform',
        'linux/amd64,linux/arm64',
        '--label',
        'a=b',
        '--annotation',
        'index,manifest:a=b',
        '/repo/app',
      ],
    ],
    [
      'provenance and sbom when the settings say so',
      {},
      { provenance: 'mode=max', sbom: 'true' },
      [...HEAD, ...FILE, '--provenance=mode=max', '--sbom=true', '/repo/app'],
    ],
    [
      'registry cache per image, in a form ECR accepts',
      {},
      { cache: 'registry' },
      [
        ...HEAD,
        ...FILE,
        '--cache-from',
        'type=registry,ref=registry.example:5000/acme/app:buildcache',
        '--cache-to',
        'type=registry,ref=registry.example:5000/acme/app:buildcache,mode=max,image-manifest=true,oci-mediatypes=true',
        '/repo/app',
      ],
    ],
    [
      'GitHub Actions cache with one scope per image',
      {},
      { cache: 'gha' },
      [
        ...HEAD,
        ...FILE,
        '--cache-from',
        'type=gha,scope=app',
        '--cache-to',
        'type=gha,scope=app,mode=max',
        '/repo/app',
      ],
    ],
    [
      'insecure: the registry exporter and the cache allow plain HTTP',
      { insecure: true },
      { cache: 'registry', cacheTag: 'cache' },
      [
        'buildx',
        'build',
        '--output',
        'type=registry,registry.insecure=true',
        '--metadata-file',
        '/job/app/metadata.json',
        ...FILE,
        '--cache-from',
        'type=registry,ref=registry.example:5000/acme/app:cache,registry.insecure=true',
        '--cache-to',
        'type=registry,ref=registry.example:5000/acme/app:cache,mode=max,image-manifest=true,oci-mediatypes=true,registry.insecure=true',
        '/repo/app',
      ],
    ],
    [
      'a named builder',
      {},
      { builder: 'ci' },
      ['buildx', 'build', '--builder', 'ci', ...HEAD.slice(2), ...FILE, '/repo/app'],
    ],
  ])('%s', (_name, overrides, settings, expected) => {
    expect(buildxBuildArgs(request(overrides), { ...SETTINGS, ...settings })).toEqual(expected);
  });

  it('quotes a gha scope that would break the CSV field', () => {
    expect(buildxCacheArgs(request({ image: 'a,"b"' }), { ...SETTINGS, cache: 'gha' })).toEqual([
      '--cache-from',
      'type=gha,"scope=a,""b"""',
      '--cache-to',
      'type=gha,"scope=a,""b""",mode=max',
    ]);
  });

  it('writes the metadata file into the work folder', () => {
    expect(buildxMetadataFile(request())).toBe('/job/app/metadata.json');
  });
});

describe('buildx environment', () => {
  it.each<[Record<string, string>, string]>([
    [{ BUILDX_CONFIG: '/state/buildx', DOCKER_CONFIG: '/d', HOME: '/h' }, '/state/buildx'],
    [{ DOCKER_CONFIG: '/d', HOME: '/h' }, '/d/buildx'],
    [{ HOME: '/h' }, '/h/.docker/buildx'],
  ])('buildx state of %j is in %s', (env, expected) => {
    expect(buildxConfigDir(env)).toBe(expected);
  });

  it('points DOCKER_CONFIG at the auth file folder and keeps the user builders', () => {
    const settings = buildxSettings({ HOME: '/h' });
    expect(settings).toEqual({ ...DEFAULT_BUILDX_SETTINGS, buildxConfig: '/h/.docker/buildx' });
    expect(buildxEnv(request(), settings)).toEqual({
      DOCKER_CONFIG: '/run/secrets/auth',
      BUILDX_CONFIG: '/h/.docker/buildx',
    });
  });

  it('inspects (and starts) the current or the named builder', () => {
    expect(buildxInspectArgs({})).toEqual(['buildx', 'inspect', '--bootstrap']);
    expect(buildxInspectArgs({ builder: 'ci' })).toEqual([
      'buildx',
      'inspect',
      '--bootstrap',
      'ci',
    ]);
  });
});

const INSPECT_RUNNING = [
  'Name:          builder-1',
  'Driver:        docker-container',
  'Last Activity: 2024-05-01 12:00:00 +0000 UTC',
  '',
  'Nodes:',
  'Name:                  builder-10',
  'Endpoint:              unix:///var/run/docker.sock',
  'Status:                running',
  'BuildKit daemon flags: --allow-insecure-entitlement=network.host',
  'BuildKit version:      v0.15.1',
  'Platforms:             linux/amd64, linux/amd64/v2, linux/386',
];

describe('parseBuildxInspect', () => {
  it('reads the builder name, driver and node statuses', () => {
    expect(parseBuildxInspect(INSPECT_RUNNING)).toEqual({
      name: 'builder-1',
      driver: 'docker-container',
      statuses: ['running'],
    });
  });

  it('reads a builder without nodes', () => {
    expect(parseBuildxInspect(['Name: x', 'Driver: remote'])).toEqual({
      name: 'x',
      driver: 'remote',
      statuses: [],
    });
  });
});

describe('BuildxBuilder against a recording docker', () => {
  const DIGEST = `sha256:${'a'.repeat(64)}`;
  const HOST = 'registry.example:5000';
  let fakes: FakeTools;
  let root: string;
  let authFile: string;

  const build: FakeResponse = {
    when: ['buildx', 'build'],
    stdout: ['#1 [internal] load build definition from Dockerfile', '#9 DONE 0.1s'],
    writes: [
      {
        flag: '--metadata-file',
        content: JSON.stringify({
          'buildx.build.ref': 'builder-1/builder-10/x',
          'containerimage.descriptor': { digest: DIGEST },
          'containerimage.digest': DIGEST,
          'image.name': REF,
        }),
      },
    ],
  };
  const inspect: FakeResponse = { when: ['buildx', 'inspect'], stdout: INSPECT_RUNNING };

  beforeAll(async () => {
    [fakes, root] = await Promise.all([
      FakeTools.create(),
      mkdtemp(join(tmpdir(), 'image-builder-buildx-')),
    ]);
    authFile = await writeAuthFile(root, HOST);
  });

  afterAll(async () => {
    await fakes?.remove();
    if (root) await rm(root, { recursive: true, force: true });
  });

  function realRequest(overrides: Partial<BuildRequest> = {}): BuildRequest {
    return request({
      contextDir: join(root, 'context'),
      dockerfile: join(root, 'context', 'Dockerfile'),
      authFile,
      workDir: join(root, 'work', overrides.image ?? 'app'),
      ...overrides,
    });
  }

  it('checks the builder once, builds, and returns the digest from the metadata file', async () => {
    await fakes.install('docker', [inspect, build]);
    const settings = {
      ...SETTINGS,
      cache: 'registry' as const,
      buildxConfig: join(root, 'buildx'),
    };
    const builder = new BuildxBuilder(settings);
    const log: string[] = [];
    const first = realRequest({
      buildArgs: { PASSWORD_HINT: 'see the vault' },
      labels: { 'org.opencontainers.image.title': 'app' },
    });
    const second = realRequest({ image: 'web', pushRef: `${HOST}/acme/web:abc123` });

    expect(await builder.build(first, fakes.exec, (line) => log.push(line))).toEqual({
      digest: DIGEST,
    });
    expect(await builder.build(second, fakes.exec, (line) => log.push(line))).toEqual({
      digest: DIGEST,
    });

    const records = await fakes.records('docker');
    expect(records.map((record) => record.argv)).toEqual([
      ['buildx', 'inspect', '--bootstrap'],
      buildxBuildArgs(first, settings),
      buildxBuildArgs(second, settings),
    ]);
    for (const record of records) {
      expect(record.env.DOCKER_CONFIG).toBe(dirname(authFile));
      expect(record.env.BUILDX_CONFIG).toBe(join(root, 'buildx'));
      // The config the tool reads holds the credentials: that is how they travel.
      expect(record.files[authFile]).toContain('"auths"');
      expect(record.files[authFile]).toContain(HOST);
    }
    expect(log).toContain('buildx builder builder-1, driver docker-container');
    expect(log).toContain('#9 DONE 0.1s');
  });

  it('never puts a secret on a command line', async () => {
    const records = await fakes.records();
    expect(records.length).toBeGreaterThan(0);
    for (const record of records) {
      for (const word of record.argv) {
        for (const secret of secretForms()) expect(word).not.toContain(secret);
      }
    }
  });

  it.each<[string, FakeResponse, RegExp]>([
    [
      'buildx cannot reach a builder',
      {
        when: ['buildx', 'inspect'],
        stdout: ['ERROR: Cannot connect to the Docker daemon at unix:///var/run/docker.sock.'],
        exitCode: 1,
      },
      /no usable buildx builder: `docker buildx inspect --bootstrap` failed \(exit 1\): ERROR: Cannot connect.*docker\/setup-buildx-action/s,
    ],
    [
      'the builder does not run',
      { when: ['buildx', 'inspect'], stdout: ['Name: ci', 'Driver: remote', 'Status: error'] },
      /shows ci with status error\. On GitHub Actions add a docker\/setup-buildx-action step/,
    ],
  ])('a UserError naming docker/setup-buildx-action when %s', async (_name, response, message) => {
    await fakes.install('docker', [response, build]);
    const builder = new BuildxBuilder(SETTINGS);
    const error = await builder.build(realRequest(), fakes.exec, () => undefined).catch((e) => e);
    expect(error).toBeInstanceOf(UserError);
    expect((error as Error).message).toMatch(message);
  });

  it('a BuildError with the exit code and the last lines when the build fails', async () => {
    await fakes.install('docker', [
      inspect,
      {
        when: ['buildx', 'build'],
        stdout: [
          '#5 [2/2] RUN false',
          'ERROR: process "/bin/sh -c false" did not complete successfully: exit code: 1',
        ],
        exitCode: 1,
      },
    ]);
    const error = await new BuildxBuilder(SETTINGS)
      .build(realRequest(), fakes.exec, () => undefined)
      .catch((e) => e);
    expect(error).toBeInstanceOf(BuildError);
    expect((error as BuildError).exitCode).toBe(1);
    expect((error as BuildError).message).toMatch(
      /^building app failed \(exit 1\):\n#5 \[2\/2\] RUN false\nERROR/,
    );
  });

  it('fails when buildx wrote no digest', async () => {
    await fakes.install('docker', [inspect, { when: ['buildx', 'build'] }]);
    await expect(
      new BuildxBuilder(SETTINGS).build(
        realRequest({ image: 'empty' }),
        fakes.exec,
        () => undefined,
      ),
    ).rejects.toThrow(/buildx wrote no containerimage.digest to .*metadata\.json/);
  });
});
