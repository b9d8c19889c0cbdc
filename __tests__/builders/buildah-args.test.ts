import {
  buildahBuildArgs,
  buildahDigestFile,
  buildahLocalName,
  buildahPushArgs,
  buildahRemoveArgs,
  buildahSettings,
  type BuildahSettings,
} from '../../src/builders/buildah.js';
import { BuildError, formatCommand } from '../../src/builders/errors.js';
import type { BuildRequest } from '../../src/builders/types.js';
import { ConfigError } from '../../src/core/errors.js';

const SETTINGS: BuildahSettings = { storageDriver: 'vfs', isolation: 'chroot' };

function request(overrides: Partial<BuildRequest> = {}): BuildRequest {
  return {
    image: 'app',
    contextDir: '/repo/app',
    dockerfile: '/repo/app/Dockerfile',
    buildArgs: {},
    labels: {},
    platforms: [],
    pushRef: 'registry.example:5000/acme/app:abc123',
    authFile: '/run/secrets/auth.json',
    insecure: false,
    workDir: '/job/app',
    ...overrides,
  };
}

const LOCAL = buildahLocalName(request());

describe('buildahLocalName', () => {
  it('is a local name made of the image name and a hash of the work folder', () => {
    expect(LOCAL).toMatch(/^localhost\/image-builder\/app:[a-f0-9]{12}$/);
    expect(buildahLocalName(request())).toBe(LOCAL);
  });

  it('differs between work folders (variants of one image built at once)', () => {
    expect(buildahLocalName(request({ workDir: '/job/app-slim' }))).not.toBe(LOCAL);
  });

  it.each([
    ['Tools/Big Thing', /^localhost\/image-builder\/tools-big-thing:/],
    ['--', /^localhost\/image-builder\/image:/],
  ])('turns %j into a valid repository name', (image, expected) => {
    expect(buildahLocalName(request({ image }))).toMatch(expected);
  });
});

describe('buildahBuildArgs', () => {
  const head = ['--storage-driver', 'vfs', 'build', '--isolation', 'chroot'];
  const common = ['--format', 'docker', '--pull=missing'];

  it.each<[string, Partial<BuildRequest>, string[]]>([
    [
      'one image for the builder platform',
      {},
      [
        ...head,
        ...common,
        '--layers',
        '--force-rm',
        '-f',
        '/repo/app/Dockerfile',
        '-t',
        LOCAL,
        '--authfile',
        '/run/secrets/auth.json',
        '/repo/app',
      ],
    ],
    [
      'one named platform, a target, insecure',
      { platforms: ['linux/arm64'], target: 'runtime', insecure: true },
      [
        ...head,
        ...common,
        '--layers',
        '--force-rm',
        '-f',
        '/repo/app/Dockerfile',
        '-t',
        LOCAL,
        '--target',
        'runtime',
        '--platform',
        'linux/arm64',
        '--authfile',
        '/run/secrets/auth.json',
        '--tls-verify=false',
        '/repo/app',
      ],
    ],
    [
      'two platforms: a manifest list, no layer cache',
      { platforms: ['linux/amd64', 'linux/arm64'] },
      [
        ...head,
        ...common,
        '--layers=false',
        '--force-rm',
        '-f',
        '/repo/app/Dockerfile',
        '--manifest',
        LOCAL,
        '--platform',
        'linux/amd64,linux/arm64',
        '--authfile',
        '/run/secrets/auth.json',
        '/repo/app',
      ],
    ],
    [
      'build-args with spaces and "=" stay one argument each, sorted by name',
      { buildArgs: { VERSION: '1.2 beta', FLAGS: 'a=b c=d', EMPTY: '' } },
      [
        ...head,
        ...common,
        '--layers',
        '--force-rm',
        '-f',
        '/repo/app/Dockerfile',
        '-t',
        LOCAL,
        '--build-arg',
        'EMPTY=',
        '--build-arg',
        'FLAGS=a=b c=d',
        '--build-arg',
        'VERSION=1.2 beta',
        '--authfile',
        '/run/secrets/auth.json',
        '/repo/app',
      ],
    ],
    [
      'labels after build-args, sorted by name',
      {
        buildArgs: { A: '1' },
        labels: {
          'org.opencontainers.image.title': 'app',
          'org.opencontainers.image.created': '2024-05-01T12:00:00.000Z',
          description: 'an app; with "quotes" & spaces',
        },
      },
      [
        ...head,
        ...common,
        '--layers',
        '--force-rm',
        '-f',
        '/repo/app/Dockerfile',
        '-t',
        LOCAL,
        '--build-arg',
        'A=1',
        '--label',
        'description=an app; with "quotes" & spaces',
        '--label',
        'org.opencontainers.image.created=2024-05-01T12:00:00.000Z',
        '--label',
        'org.opencontainers.image.title=app',
        '--authfile',
        '/run/secrets/auth.json',
        '/repo/app',
      ],
    ],
  ])('%s', (_name, overrides, expected) => {
    expect(buildahBuildArgs(request(overrides), SETTINGS)).toEqual(expected);
  });

  it('takes the storage driver and isolation from the settings', () => {
    expect(
      buildahBuildArgs(request(), { storageDriver: 'overlay', isolation: 'oci' }).slice(0, 5),
    ).toEqual(['--storage-driver', 'overlay', 'build', '--isolation', 'oci']);
  });
});

describe('buildahPushArgs', () => {
  const digest = '/job/app/digest';

  it.each<[string, Partial<BuildRequest>, string[]]>([
    [
      'one image',
      {},
      [
        '--storage-driver',
        'vfs',
        'push',
        '--authfile',
        '/run/secrets/auth.json',
        '--digestfile',
        digest,
        LOCAL,
        'docker://registry.example:5000/acme/app:abc123',
      ],
    ],
    [
      'one image, insecure',
      { insecure: true },
      [
        '--storage-driver',
        'vfs',
        'push',
        '--authfile',
        '/run/secrets/auth.json',
        '--tls-verify=false',
        '--digestfile',
        digest,
        LOCAL,
        'docker://registry.example:5000/acme/app:abc123',
      ],
    ],
    [
      'a manifest list with every image in it, as a Docker list',
      { platforms: ['linux/amd64', 'linux/arm64'], insecure: true },
      [
        '--storage-driver',
        'vfs',
        'manifest',
        'push',
        '--all',
        '--format',
        'v2s2',
        '--authfile',
        '/run/secrets/auth.json',
        '--tls-verify=false',
        '--digestfile',
        digest,
        LOCAL,
        'docker://registry.example:5000/acme/app:abc123',
      ],
    ],
  ])('%s', (_name, overrides, expected) => {
    expect(buildahPushArgs(request(overrides), SETTINGS, LOCAL, digest)).toEqual(expected);
  });

  it('writes the digest into the work folder', () => {
    expect(buildahDigestFile(request())).toBe('/job/app/digest');
  });
});

describe('buildahRemoveArgs', () => {
  it('removes the tagged image', () => {
    expect(buildahRemoveArgs(request(), SETTINGS, LOCAL, ['a'.repeat(64)])).toEqual([
      ['--storage-driver', 'vfs', 'rmi', LOCAL],
    ]);
  });

  it('removes a manifest list and the images built for it', () => {
    const ids = ['a'.repeat(64), 'b'.repeat(64)];
    const multi = request({ platforms: ['linux/amd64', 'linux/arm64'] });
    expect(buildahRemoveArgs(multi, SETTINGS, LOCAL, ids)).toEqual([
      ['--storage-driver', 'vfs', 'manifest', 'rm', LOCAL],
      ['--storage-driver', 'vfs', 'rmi', ...ids],
    ]);
    expect(buildahRemoveArgs(multi, SETTINGS, LOCAL)).toEqual([
      ['--storage-driver', 'vfs', 'manifest', 'rm', LOCAL],
    ]);
  });
});

describe('buildahSettings', () => {
  it.each<[Record<string, string>, BuildahSettings]>([
    [{}, { storageDriver: 'vfs', isolation: 'chroot' }],
    [
      { STORAGE_DRIVER: '', BUILDAH_ISOLATION: ' ' },
      { storageDriver: 'vfs', isolation: 'chroot' },
    ],
    [
      { STORAGE_DRIVER: 'overlay', BUILDAH_ISOLATION: 'rootless' },
      { storageDriver: 'overlay', isolation: 'rootless' },
    ],
  ])('%j', (env, expected) => {
    expect(buildahSettings(env)).toEqual(expected);
  });

  it.each([{ BUILDAH_ISOLATION: 'docker' }, { STORAGE_DRIVER: 'vfs --root /' }])(
    'refuses %j',
    (env) => {
      expect(() => buildahSettings(env)).toThrow(ConfigError);
    },
  );
});

describe('BuildError', () => {
  it('names the image, the exit code and the last non-empty lines', () => {
    const tail = Array.from({ length: 14 }, (_, i) => `line ${i + 1}`);
    const error = new BuildError({
      image: 'app',
      action: 'building',
      command: 'buildah',
      args: ['build', '--label', 'a=b c'],
      exitCode: 2,
      tail: [...tail, ''],
    });
    expect(error.message).toBe(`building app failed (exit 2):\n${tail.slice(4).join('\n')}`);
    expect(error.command).toBe(`buildah build --label 'a=b c'`);
    expect(error.exitCode).toBe(2);
    expect(error.tail).toHaveLength(15);
  });

  it('names where a push went', () => {
    const error = new BuildError({
      image: 'app',
      action: 'pushing',
      destination: 'r.example/app:1',
      command: 'buildah',
      args: ['push'],
      exitCode: 125,
      tail: [],
    });
    expect(error.message).toBe('pushing app to r.example/app:1 failed (exit 125)');
  });

  it.each([
    [['a b'], `buildah 'a b'`],
    [["it's"], `buildah 'it'\\''s'`],
    [
      ['--tls-verify=false', 'docker://h:5000/a@sha256:ab'],
      'buildah --tls-verify=false docker://h:5000/a@sha256:ab',
    ],
    [[''], `buildah ''`],
  ])('formatCommand quotes %j for a shell', (args, expected) => {
    expect(formatCommand('buildah', args)).toBe(expected);
  });
});
