// Cloud Native Buildpacks through `pack build --publish`: the whole argv per case, then runs
// through the real exec against a recording fake `pack` (no pack, no Docker engine here).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { BuildError } from '../../src/builders/errors.js';
import {
  DEFAULT_PACK_SETTINGS,
  PackBuilder,
  packBuildArgs,
  packDigestFromOutput,
  packLabelEnv,
  packLifecycleImage,
  type PackSettings,
} from '../../src/builders/pack.js';
import type { BuildRequest } from '../../src/builders/types.js';
import { UserError } from '../../src/core/errors.js';
import { FakeTools, secretForms, writeAuthFile } from '../support/fake-tools.js';

const REF = 'registry.example:5000/acme/api:abc123';
const SETTINGS: PackSettings = { ...DEFAULT_PACK_SETTINGS };

function request(overrides: Partial<BuildRequest> = {}): BuildRequest {
  return {
    image: 'api',
    contextDir: '/repo/api',
    dockerfile: '',
    buildArgs: {},
    labels: {},
    platforms: [],
    pushRef: REF,
    authFile: '/run/secrets/auth/config.json',
    insecure: false,
    workDir: '/job/api',
    ...overrides,
  };
}

const HEAD = [
  'build',
  REF,
  '--builder',
  'paketobuildpacks/builder-jammy-base',
  '--path',
  '/repo/api',
  '--publish',
];

describe('packBuildArgs', () => {
  it.each<[string, Partial<BuildRequest>, Partial<PackSettings>, string[]]>([
    ['the default builder', {}, {}, HEAD],
    [
      'builder and lifecycle pinned as seed 003 pins them',
      {},
      { builder: 'paketobuildpacks/builder:0.2.326-full', lifecycleVersion: '0.16.0' },
      [
        'build',
        REF,
        '--builder',
        'paketobuildpacks/builder:0.2.326-full',
        '--path',
        '/repo/api',
        '--publish',
        '--lifecycle-image',
        'buildpacksio/lifecycle:0.16.0',
      ],
    ],
    [
      'environment: settings, then the image build-args (which win), with spaces and "="',
      { buildArgs: { BP_NODE_VERSION: '20.*', JAVA_OPTS: '-Da=b -Dc=d x' } },
      { env: { BP_NODE_VERSION: '18.*', BP_LOG_LEVEL: 'DEBUG' } },
      [
        ...HEAD,
        '--env',
        'BP_LOG_LEVEL=DEBUG',
        '--env',
        'BP_NODE_VERSION=20.*',
        '--env',
        'JAVA_OPTS=-Da=b -Dc=d x',
      ],
    ],
    [
      'labels through the image-labels buildpack',
      {
        labels: {
          'org.opencontainers.image.revision': 'abc123',
          'org.opencontainers.image.source': 'https://example.com/acme/api',
          'org.opencontainers.image.base.name': 'docker.io/paketobuildpacks/run:base',
          team: "platform 'core'",
        },
      },
      {},
      [
        ...HEAD,
        '--env',
        "BP_IMAGE_LABELS=org.opencontainers.image.base.name=docker.io/paketobuildpacks/run:base 'team=platform '\\''core'\\'''",
        '--env',
        'BP_OCI_REVISION=abc123',
        '--env',
        'BP_OCI_SOURCE=https://example.com/acme/api',
      ],
    ],
    [
      'one platform, the cache image, a network',
      { platforms: ['linux/arm64'] },
      { cache: true, network: 'host' },
      [
        ...HEAD,
        '--platform',
        'linux/arm64',
        '--cache-image',
        'registry.example:5000/acme/api:buildcache',
        '--network',
        'host',
      ],
    ],
    [
      'insecure: the registry host',
      { insecure: true },
      { lifecycleImage: 'mirror.example/lifecycle:0.20.1', lifecycleVersion: '0.16.0' },
      [
        ...HEAD,
        '--lifecycle-image',
        'mirror.example/lifecycle:0.20.1',
        '--insecure-registry',
        'registry.example:5000',
      ],
    ],
  ])('%s', (_name, overrides, settings, expected) => {
    expect(packBuildArgs(request(overrides), { ...SETTINGS, ...settings })).toEqual(expected);
  });

  it('refuses several platforms', () => {
    expect(() =>
      packBuildArgs(request({ platforms: ['linux/amd64', 'linux/arm64'] }), SETTINGS),
    ).toThrow(UserError);
  });

  it.each<[Partial<PackSettings>, string | undefined]>([
    [{}, undefined],
    [{ lifecycleVersion: 'v0.17.2' }, 'buildpacksio/lifecycle:0.17.2'],
    [{ lifecycleImage: 'x/lifecycle@sha256:ab', lifecycleVersion: '1' }, 'x/lifecycle@sha256:ab'],
  ])('lifecycle image of %j', (settings, expected) => {
    expect(packLifecycleImage({ ...SETTINGS, ...settings })).toBe(expected);
  });

  it('keeps labels without an OCI variable in BP_IMAGE_LABELS only when there are some', () => {
    expect(packLabelEnv({ 'org.opencontainers.image.title': 'api' })).toEqual({
      BP_OCI_TITLE: 'api',
    });
  });
});

describe('packDigestFromOutput', () => {
  const digest = `sha256:${'c'.repeat(64)}`;
  it.each<[string[], string | undefined]>([
    [[`[creator] *** Digest: ${digest}`], digest],
    [
      [`[exporter] *** Images (${digest.slice(7, 19)}):`, `[exporter] *** Digest: ${digest}`],
      digest,
    ],
    [[`*** Digest: ${digest}`, 'Successfully built image'], digest],
    [['Successfully built image registry.example:5000/acme/api:abc123'], undefined],
    [['*** Digest: sha256:short'], undefined],
  ])('%j', (lines, expected) => {
    expect(packDigestFromOutput(lines)).toBe(expected);
  });
});

describe('PackBuilder against a recording pack', () => {
  const DIGEST = `sha256:${'d'.repeat(64)}`;
  const HOST = 'registry.example:5000';
  let fakes: FakeTools;
  let root: string;
  let authFile: string;

  beforeAll(async () => {
    [fakes, root] = await Promise.all([
      FakeTools.create(),
      mkdtemp(join(tmpdir(), 'image-builder-pack-')),
    ]);
    authFile = await writeAuthFile(root, HOST);
  });

  afterAll(async () => {
    await fakes?.remove();
    if (root) await rm(root, { recursive: true, force: true });
  });

  function realRequest(overrides: Partial<BuildRequest> = {}): BuildRequest {
    return request({
      contextDir: join(root, 'api'),
      authFile,
      workDir: join(root, 'work'),
      ...overrides,
    });
  }

  it('publishes and returns the digest pack printed', async () => {
    await fakes.install('pack', [
      {
        when: ['build'],
        stdout: [
          '===> EXPORTING',
          `[creator] *** Images (${DIGEST.slice(7, 19)}):`,
          `[creator]       ${REF}`,
          `[creator] *** Digest: ${DIGEST}`,
          `Successfully built image '${REF}'`,
        ],
      },
    ]);
    const settings = { ...SETTINGS, lifecycleVersion: '0.16.0', env: { BP_LOG_LEVEL: 'DEBUG' } };
    const built = realRequest({ labels: { 'org.opencontainers.image.revision': 'abc123' } });
    const log: string[] = [];
    expect(
      await new PackBuilder(settings).build(built, fakes.exec, (line) => log.push(line)),
    ).toEqual({
      digest: DIGEST,
    });
    const [record] = await fakes.records('pack');
    expect(record?.argv).toEqual(packBuildArgs(built, settings));
    expect(record?.env.DOCKER_CONFIG).toBe(dirname(authFile));
    expect(record?.files[authFile]).toContain(HOST);
    expect(log).toContain(`Successfully built image '${REF}'`);
  });

  it('asks the registry when pack printed no digest', async () => {
    await fakes.install('pack', [{ when: ['build'], stdout: ['Successfully built image'] }]);
    const asked: string[] = [];
    const builder = new PackBuilder({
      ...SETTINGS,
      resolveDigest: async (ref) => {
        asked.push(ref);
        return DIGEST;
      },
    });
    expect(await builder.build(realRequest(), fakes.exec, () => undefined)).toEqual({
      digest: DIGEST,
    });
    expect(asked).toEqual([REF]);
  });

  it('fails without a digest and without a way to ask for one', async () => {
    await expect(
      new PackBuilder(SETTINGS).build(realRequest(), fakes.exec, () => undefined),
    ).rejects.toThrow(`building api: pack printed no "*** Digest:" line for ${REF}`);
  });

  it('a BuildError when pack fails', async () => {
    await fakes.install('pack', [
      {
        when: ['build'],
        stdout: ['ERROR: failed to build: executing lifecycle: failed with status code: 51'],
        exitCode: 1,
      },
    ]);
    const error = await new PackBuilder(SETTINGS)
      .build(realRequest(), fakes.exec, () => undefined)
      .catch((e) => e);
    expect(error).toBeInstanceOf(BuildError);
    expect((error as BuildError).exitCode).toBe(1);
  });

  it('never puts a secret on a command line', async () => {
    const records = await fakes.records();
    expect(records.length).toBe(4);
    for (const word of records.flatMap((record) => record.argv)) {
      for (const secret of secretForms()) expect(word).not.toContain(secret);
    }
  });
});
