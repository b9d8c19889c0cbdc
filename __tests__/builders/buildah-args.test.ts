import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BuildahBuilder,
  buildahBuildArgs,
  buildahImageDir,
  buildahKeepArgs,
  buildahLocalName,
  buildahPushArgs,
  buildahRemoveArgs,
  buildahSettings,
  type BuildahSettings,
} from '../../src/builders/buildah.js';
import { BuildError, formatCommand } from '../../src/builders/errors.js';
import type { BuildRequest, Exec } from '../../src/builders/types.js';
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
  const imageDir = '/job/app/image';

  it.each<[string, Partial<BuildRequest>, string[]]>([
    [
      'one image, into a local dir: folder (no credentials, no registry)',
      { insecure: true },
      ['--storage-driver', 'vfs', 'push', '--format', 'v2s2', LOCAL, `dir:${imageDir}`],
    ],
    [
      'a manifest list with every image in it, as a Docker list',
      { platforms: ['linux/amd64', 'linux/arm64'] },
      [
        '--storage-driver',
        'vfs',
        'manifest',
        'push',
        '--all',
        '--format',
        'v2s2',
        LOCAL,
        `dir:${imageDir}`,
      ],
    ],
  ])('%s', (_name, overrides, expected) => {
    expect(buildahPushArgs(request(overrides), SETTINGS, LOCAL, imageDir)).toEqual(expected);
  });

  it('writes the image into the work folder', () => {
    expect(buildahImageDir(request())).toBe('/job/app/image');
  });

  it('keeps a pushed image by pulling its dir: copy back', () => {
    expect(buildahKeepArgs(SETTINGS, imageDir)).toEqual([
      '--storage-driver',
      'vfs',
      'pull',
      '--quiet',
      `dir:${imageDir}`,
    ]);
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

describe('BuildahBuilder and local storage races', () => {
  // Recorded argv only: the real tool is exercised in buildah.test.ts.
  async function buildWith(
    buildResults: { exitCode: number; tail: string[] }[],
  ): Promise<{ result: Promise<unknown>; argvs: string[][]; lines: string[] }> {
    const workDir = await mkdtemp(join(tmpdir(), 'image-builder-race-'));
    const argvs: string[][] = [];
    const lines: string[] = [];
    const exec: Exec = async (req) => {
      argvs.push([...req.args]);
      if (req.args.includes('build')) return buildResults.shift() ?? { exitCode: 0, tail: [] };
      return { exitCode: 0, tail: [] };
    };
    const builder = new BuildahBuilder(SETTINGS, async () => `sha256:${'a'.repeat(64)}`);
    const result = builder
      .build(request({ workDir }), exec, (line) => lines.push(line))
      .finally(() => rm(workDir, { recursive: true, force: true }));
    return { result, argvs, lines };
  }
  const RACE = {
    exitCode: 125,
    tail: ['Error: checking if cached image exists from a previous build: layer not known'],
  };

  it('builds again when another build removed a layer it was looking at', async () => {
    const { result, argvs, lines } = await buildWith([RACE, { exitCode: 0, tail: [] }]);
    await expect(result).resolves.toEqual({ digest: `sha256:${'a'.repeat(64)}` });
    expect(argvs.filter((args) => args.includes('build'))).toHaveLength(2);
    expect(lines).toContain(
      'local storage changed under the build (another image was removed): building again',
    );
  });

  it('gives up after two more tries, and never retries a real build failure', async () => {
    const raced = await buildWith([RACE, RACE, RACE, RACE]);
    await expect(raced.result).rejects.toThrow(/layer not known/);
    expect(raced.argvs.filter((args) => args.includes('build'))).toHaveLength(3);

    const broken = await buildWith([{ exitCode: 1, tail: ['error: RUN exited with 2'] }]);
    await expect(broken.result).rejects.toBeInstanceOf(BuildError);
    expect(broken.argvs).toHaveLength(1);
  });
});
