// Kaniko: the whole executor argv per case, then runs through the real exec against a
// recording fake executor (no Kaniko here) that writes the digest file Kaniko would write.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { BuildError } from '../../src/builders/errors.js';
import {
  DEFAULT_KANIKO_EXECUTOR,
  DEFAULT_KANIKO_SETTINGS,
  KanikoBuilder,
  kanikoArgs,
  kanikoDigestFile,
  kanikoKeeps,
  kanikoSettings,
  parseMountPoints,
  type KanikoSettings,
} from '../../src/builders/kaniko.js';
import type { BuildRequest } from '../../src/builders/types.js';
import { UserError } from '../../src/core/errors.js';
import { FakeTools, secretForms, writeAuthFile } from '../support/fake-tools.js';

const REF = 'registry.example:5000/acme/app:abc123';
const SETTINGS: KanikoSettings = { ...DEFAULT_KANIKO_SETTINGS };

function request(overrides: Partial<BuildRequest> = {}): BuildRequest {
  return {
    image: 'app',
    contextDir: '/repo/app',
    dockerfile: '/job/app/pinned/Dockerfile',
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

const HEAD = [
  '--context',
  'dir:///repo/app',
  '--dockerfile',
  '/job/app/pinned/Dockerfile',
  '--destination',
  REF,
  '--digest-file',
  '/job/app/digest',
  '--push-retry',
  '3',
];

describe('kanikoArgs', () => {
  it.each<[string, Partial<BuildRequest>, Partial<KanikoSettings>, string[]]>([
    ['one image for the container platform', {}, {}, HEAD],
    [
      'one named platform and a target',
      { platforms: ['linux/arm64'], target: 'runtime' },
      {},
      [...HEAD, '--target', 'runtime', '--custom-platform', 'linux/arm64'],
    ],
    [
      'build-args with spaces and "=" stay one argument each, then labels, sorted by name',
      {
        buildArgs: { VERSION: '1.2 beta', FLAGS: 'a=b c=d', EMPTY: '' },
        labels: { 'org.opencontainers.image.title': 'app', description: 'an "app"; & more' },
      },
      {},
      [
        ...HEAD,
        '--build-arg',
        'EMPTY=',
        '--build-arg',
        'FLAGS=a=b c=d',
        '--build-arg',
        'VERSION=1.2 beta',
        '--label',
        'description=an "app"; & more',
        '--label',
        'org.opencontainers.image.title=app',
      ],
    ],
    [
      'layer cache in <repository>/cache',
      {},
      { cache: true },
      [...HEAD, '--cache=true', '--cache-repo', 'registry.example:5000/acme/app/cache'],
    ],
    ['several images in one container: --cleanup', {}, { cleanup: true }, [...HEAD, '--cleanup']],
    [
      'insecure: plain HTTP for the push and the parents, no certificate checks',
      { insecure: true },
      {},
      [...HEAD, '--insecure', '--insecure-pull', '--skip-tls-verify'],
    ],
    [
      'everything at once',
      { insecure: true, target: 't', platforms: ['linux/amd64'], buildArgs: { A: '1' } },
      { cache: true, cleanup: true },
      [
        ...HEAD,
        '--target',
        't',
        '--custom-platform',
        'linux/amd64',
        '--build-arg',
        'A=1',
        '--cache=true',
        '--cache-repo',
        'registry.example:5000/acme/app/cache',
        '--cleanup',
        '--insecure',
        '--insecure-pull',
        '--skip-tls-verify',
      ],
    ],
  ])('%s', (_name, overrides, settings, expected) => {
    expect(kanikoArgs(request(overrides), { ...SETTINGS, ...settings })).toEqual(expected);
  });

  it('refuses several platforms: Kaniko builds one per run', () => {
    expect(() =>
      kanikoArgs(request({ platforms: ['linux/amd64', 'linux/arm64'] }), SETTINGS),
    ).toThrow(
      new UserError(
        'image "app": Kaniko builds one platform per run, not linux/amd64, linux/arm64; ' +
          'build it with buildx or buildah (builder: buildx), or list one platform',
      ),
    );
  });

  it('writes the digest into the work folder', () => {
    expect(kanikoDigestFile(request())).toBe('/job/app/digest');
  });
});

describe('kanikoSettings', () => {
  it.each<[Record<string, string>, Partial<KanikoSettings>, KanikoSettings]>([
    [
      {},
      {},
      { executor: DEFAULT_KANIKO_EXECUTOR, cache: false, cleanup: false, preCleanup: false },
    ],
    [
      { KANIKO_CLEANUP: '1', KANIKO_PRE_CLEANUP: 'true' },
      {},
      { executor: '/kaniko/executor', cache: false, cleanup: true, preCleanup: true },
    ],
    [
      { KANIKO_CLEANUP: 'false' },
      { cleanup: true, cache: true, executor: '/opt/kaniko/executor' },
      { executor: '/opt/kaniko/executor', cache: true, cleanup: true, preCleanup: false },
    ],
  ])('%j with %j', (env, overrides, expected) => {
    expect(kanikoSettings(env, overrides)).toEqual(expected);
  });

  it('builds one image at a time', () => {
    expect(new KanikoBuilder(SETTINGS).requiresSerialBuilds).toBe(true);
  });
});

describe('what Kaniko keeps when it cleans the filesystem', () => {
  const MOUNTINFO = [
    '1071 1050 0:64 / / rw,relatime master:1 - overlay overlay rw,lowerdir=/x',
    '1072 1071 0:66 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw',
    '1080 1071 253:1 /builds /builds rw,relatime - ext4 /dev/vda1 rw',
    '1081 1071 253:1 /cache /my\\040cache rw,relatime - ext4 /dev/vda1 rw',
    '',
  ].join('\n');

  it('reads mount points, with escaped spaces', () => {
    expect(parseMountPoints(MOUNTINFO)).toEqual(['/', '/proc', '/builds', '/my cache']);
  });

  it.each<[string, boolean]>([
    ['/kaniko/tmp/image-builder-build-1/app', true],
    ['/busybox/x', true],
    ['/builds/group/project/.tmp/auth/config.json', true],
    ['/my cache/work', true],
    ['/tmp/image-builder-build-1/app', false],
    ['/kaniko2/work', false],
    ['/buildsx/work', false],
  ])('%s: %s', (path, expected) => {
    expect(kanikoKeeps(path, parseMountPoints(MOUNTINFO))).toBe(expected);
  });
});

describe('KanikoBuilder against a recording executor', () => {
  const DIGEST = `sha256:${'b'.repeat(64)}`;
  const HOST = 'registry.example:5000';
  let fakes: FakeTools;
  let root: string;
  let authFile: string;
  let executor: string;

  beforeAll(async () => {
    [fakes, root] = await Promise.all([
      FakeTools.create(),
      mkdtemp(join(tmpdir(), 'image-builder-kaniko-')),
    ]);
    authFile = await writeAuthFile(root, HOST);
    // At an executor path of its own, as /kaniko/executor is in a Kaniko image.
    executor = await fakes.install(
      'executor',
      [
        {
          stdout: [
            'INFO[0000] Retrieving image manifest scratch',
            'INFO[0001] Pushed registry.example:5000/acme/app@' + DIGEST,
          ],
          writes: [{ flag: '--digest-file', content: DIGEST }],
        },
      ],
      join(fakes.root, 'kaniko', 'executor'),
    );
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

  it('runs the executor and returns the digest it wrote', async () => {
    const settings = { ...SETTINGS, executor, cache: true };
    const log: string[] = [];
    const built = realRequest({ buildArgs: { NOTE: 'no secrets here' }, insecure: true });
    const result = await new KanikoBuilder(settings).build(built, fakes.exec, (line) =>
      log.push(line),
    );
    expect(result).toEqual({ digest: DIGEST });

    const [record] = await fakes.records('executor');
    expect(record?.argv).toEqual(kanikoArgs(built, settings));
    expect(record?.env.DOCKER_CONFIG).toBe(dirname(authFile));
    expect(record?.files[authFile]).toContain(HOST);
    expect(log[0]).toMatch(/^\$ .*kaniko\/executor --context/);
    expect(log).toContain(`INFO[0001] Pushed registry.example:5000/acme/app@${DIGEST}`);
  });

  it('never puts a secret on a command line', async () => {
    const records = await fakes.records();
    expect(records.length).toBeGreaterThan(0);
    for (const word of records.flatMap((record) => record.argv)) {
      for (const secret of secretForms()) expect(word).not.toContain(secret);
    }
  });

  it('refuses to build when cleaning would delete the work folder and credentials', async () => {
    const builder = new KanikoBuilder(
      { ...SETTINGS, executor, cleanup: true },
      { mountPoints: async () => ['/'] },
    );
    const error = await builder.build(realRequest(), fakes.exec, () => undefined).catch((e) => e);
    expect(error).toBeInstanceOf(UserError);
    expect((error as Error).message).toMatch(
      /^Kaniko cleans this container's filesystem around each build and would delete .*work.app and .*config\.json; set TMPDIR/,
    );
  });

  it('builds when the work folder is on a mounted volume', async () => {
    const builder = new KanikoBuilder(
      { ...SETTINGS, executor, preCleanup: true },
      { mountPoints: async () => ['/', root] },
    );
    await expect(
      builder.build(realRequest({ image: 'mounted' }), fakes.exec, () => undefined),
    ).resolves.toEqual({
      digest: DIGEST,
    });
  });

  it('a BuildError naming the destination when the executor fails', async () => {
    const failing = await fakes.install(
      'executor',
      [
        {
          stdout: ['error building image: error building stage: RUN false: exit status 1'],
          exitCode: 1,
        },
      ],
      join(fakes.root, 'failing', 'executor'),
    );
    const error = await new KanikoBuilder({ ...SETTINGS, executor: failing })
      .build(realRequest(), fakes.exec, () => undefined)
      .catch((e) => e);
    expect(error).toBeInstanceOf(BuildError);
    expect((error as Error).message).toBe(
      `building app to ${REF} failed (exit 1):\nerror building image: error building stage: RUN false: exit status 1`,
    );
  });

  it('says where TMPDIR must be when a cleaning Kaniko wrote no digest', async () => {
    const silent = await fakes.install('executor', [{}], join(fakes.root, 'silent', 'executor'));
    const builder = new KanikoBuilder(
      { ...SETTINGS, executor: silent, cleanup: true },
      { mountPoints: async () => undefined },
    );
    await expect(
      builder.build(realRequest({ image: 'lost' }), fakes.exec, () => undefined),
    ).rejects.toThrow(
      /Kaniko wrote no sha256 digest to .*digest \(when Kaniko cleans the filesystem, TMPDIR must be under \/kaniko or on a mounted volume\)/,
    );
  });
});
