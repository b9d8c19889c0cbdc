// Buildah for real: builds FROM scratch with a static busybox (no base image can be pulled
// here), pushes to the distribution registry on 127.0.0.1 behind Basic auth, then builds a
// child on the parent's digest through a pinned Dockerfile copy, a two-platform manifest
// list, and a RUN that fails.
import { copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { exec } from '../../src/adapters/exec.js';
import { baseImage, finalBase, imageLabels } from '../../src/build/labels.js';
import { pinFor, writePinnedDockerfile } from '../../src/build/pin.js';
import {
  BuildahBuilder,
  buildahBuildArgs,
  buildahImageDir,
  buildahKeepArgs,
  buildahLocalName,
  buildahPushArgs,
  buildahSettings,
} from '../../src/builders/buildah.js';
import { BuildError, formatCommand } from '../../src/builders/errors.js';
import type { BuildRequest } from '../../src/builders/types.js';
import { analyseDockerfile } from '../../src/core/dockerfile.js';
import { findBusybox } from '../support/busybox.js';
import { recordExec } from '../support/exec-record.js';
import { parseReference } from '../../src/core/reference.js';
import { RegistryClient } from '../../src/registry/client.js';
import { staticCredentials } from '../../src/registry/credentials.js';
import { pushDirectory } from '../../src/registry/push-directory.js';
import { accessLog, startRegistry, type TestRegistry } from '../support/registry.js';

// Each real build gets its own time limit (the config's default is 60 s).
const BUILD_TIMEOUT = 120_000;

const USER = 'builder';
const PASSWORD = 'not in argv: s3cret';
const SETTINGS = buildahSettings(process.env);

let registry: TestRegistry;
let root: string;
let authFile: string;
let busybox: string;
/** Set by the first test, built on by the second. */
let parentDigest: string | undefined;
/** Built the parent and keeps it for the child until `finish`. */
let parentBuilder: BuildahBuilder;

/** Buildah writes `dir:`; our client pushes it (what the build command wires up). */
function builder(): BuildahBuilder {
  const client = new RegistryClient({
    credentials: staticCredentials({ [registry.host]: { username: USER, password: PASSWORD } }),
  });
  return new BuildahBuilder(SETTINGS, async (dir, reference) => {
    const target = parseReference(reference);
    return (await pushDirectory(client, dir, { ...target, tag: target.tag ?? 'latest' })).digest;
  });
}

beforeAll(async () => {
  [registry, root, busybox] = await Promise.all([
    startRegistry({ basicAuth: { username: USER, password: PASSWORD } }),
    mkdtemp(join(tmpdir(), 'image-builder-buildah-')),
    findBusybox(),
  ]);
  authFile = join(root, 'auth.json');
  const auth = Buffer.from(`${USER}:${PASSWORD}`).toString('base64');
  await writeFile(authFile, JSON.stringify({ auths: { [registry.host]: { auth } } }), {
    mode: 0o600,
  });
});

afterAll(async () => {
  // The child build pulled the parent by digest into local storage; nothing else removes it.
  if (parentDigest) {
    const pulled = `${registry.host}/test/parent@${parentDigest}`;
    const storage = ['--storage-driver', SETTINGS.storageDriver];
    await exec({ command: 'buildah', args: [...storage, 'rmi', pulled] }, () => undefined);
  }
  await registry?.stop();
  if (root) await rm(root, { recursive: true, force: true });
});

/** A build context with a static busybox and the given files. */
async function context(name: string, files: Record<string, string>): Promise<string> {
  const dir = join(root, name, 'context');
  await mkdir(dir, { recursive: true });
  await copyFile(busybox, join(dir, 'busybox'));
  for (const [path, text] of Object.entries(files)) await writeFile(join(dir, path), text);
  return dir;
}

function request(name: string, contextDir: string, overrides: Partial<BuildRequest>): BuildRequest {
  return {
    image: name,
    contextDir,
    dockerfile: join(contextDir, 'Dockerfile'),
    buildArgs: {},
    labels: {},
    platforms: [],
    pushRef: `${registry.host}/test/${name}:build-1`,
    authFile,
    insecure: true,
    workDir: join(root, name, 'work'),
    ...overrides,
  };
}

const MANIFEST_TYPES = [
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
].join(', ');

interface Manifest {
  mediaType: string;
  config: { digest: string };
  layers: { digest: string }[];
  manifests: { digest: string; platform: { os: string; architecture: string } }[];
}

interface ImageConfig {
  architecture: string;
  config: { Labels?: Record<string, string> };
}

async function registryGet(path: string, method = 'GET'): Promise<Response> {
  const auth = Buffer.from(`${USER}:${PASSWORD}`).toString('base64');
  const response = await fetch(`http://${registry.host}/v2/${path}`, {
    method,
    headers: { Accept: MANIFEST_TYPES, Authorization: `Basic ${auth}` },
  });
  if (!response.ok) throw new Error(`${method} /v2/${path}: ${response.status}`);
  return response;
}

/** The digest the registry serves for a tag. */
async function servedDigest(repository: string, tag: string): Promise<string | null> {
  return (await registryGet(`${repository}/manifests/${tag}`, 'HEAD')).headers.get(
    'docker-content-digest',
  );
}

async function manifest(repository: string, reference: string): Promise<Manifest> {
  return (await (await registryGet(`${repository}/manifests/${reference}`)).json()) as Manifest;
}

async function config(repository: string, reference: string): Promise<ImageConfig> {
  const { config: blob } = await manifest(repository, reference);
  return (await (await registryGet(`${repository}/blobs/${blob.digest}`)).json()) as ImageConfig;
}

/** Whether local storage still has an image or list under the name. */
async function existsLocally(name: string): Promise<boolean> {
  const result = await exec(
    { command: 'buildah', args: ['--storage-driver', SETTINGS.storageDriver, 'inspect', name] },
    () => undefined,
  );
  return result.exitCode === 0;
}

const PARENT_DOCKERFILE = [
  'FROM scratch',
  'COPY busybox /bin/busybox',
  'RUN ["/bin/busybox", "--install", "-s", "/bin"]',
  'RUN echo ok > /ok',
  '',
].join('\n');

test(
  'builds, pushes through the registry client, labels the image and keeps it for children',
  async () => {
    const contextDir = await context('parent', { Dockerfile: PARENT_DOCKERFILE });
    const labels = imageLabels({
      sourceUrl: 'https://example.com/acme/images',
      revision: 'a'.repeat(40),
      created: new Date('2024-05-01T12:00:00Z'),
      title: 'parent',
    });
    const req = request('parent', contextDir, {
      labels,
      buildArgs: { UNUSED: 'a b=c' },
      keepLocal: true,
    });
    const recorder = recordExec(exec);
    const lines: string[] = [];

    parentBuilder = builder();
    const { digest } = await parentBuilder.build(req, recorder.exec, (line) => lines.push(line));
    parentDigest = digest;

    const local = buildahLocalName(req);
    const imageDir = buildahImageDir(req);
    expect(recorder.argvs()).toEqual([
      ['buildah', ...buildahBuildArgs(req, SETTINGS)],
      ['buildah', ...buildahPushArgs(req, SETTINGS, local, imageDir)],
      ['buildah', ...buildahKeepArgs(SETTINGS, imageDir)],
    ]);
    expect(recorder.runs.map((run) => run.result.exitCode)).toEqual([0, 0, 0]);
    expect(JSON.stringify(recorder.runs.map((run) => run.request))).not.toContain(PASSWORD);
    expect(lines[0]).toMatch(/^\$ buildah --storage-driver /);

    expect(digest).toMatch(/^sha256:[a-f0-9]{64}$/);
    expect(await servedDigest('test/parent', 'build-1')).toBe(digest);
    const image = await config('test/parent', digest);
    expect(image.config.Labels).toMatchObject(labels);
    // COPY, and the two RUNs; the labels make no layer.
    expect((await manifest('test/parent', digest)).layers).toHaveLength(3);
    // Kept for the child, known by the pushed digest; the dir: copy is gone.
    expect(await existsLocally(local)).toBe(true);
    expect(await existsLocally(`${registry.host}/test/parent@${digest}`)).toBe(true);
    await expect(readdir(imageDir)).rejects.toThrow(/ENOENT/);
  },
  BUILD_TIMEOUT,
);

test(
  'builds a child on the parent digest through a pinned copy of its Dockerfile',
  async () => {
    if (parentDigest === undefined) throw new Error('the parent test did not push');
    const parent = parentDigest;
    // The tag the child names was never pushed: only the pin can make this build work.
    const dockerfileText = [
      'ARG REGISTRY',
      'FROM ${REGISTRY}/test/parent:latest',
      'RUN cat /ok > /child',
      '',
    ].join('\n');
    const contextDir = await context('child', { Dockerfile: dockerfileText });
    const before = await readdir(contextDir);
    const buildArgs = { REGISTRY: registry.host };
    const workDir = join(root, 'child', 'work');
    const pins = pinFor(new Map([[`${registry.host}/test/parent`, parent]]));

    const dockerfile = await writePinnedDockerfile({
      dockerfileText,
      dockerfilePath: 'images/child/Dockerfile',
      buildArgs,
      pins,
      workDir,
    });
    expect(dockerfile).toBe(join(workDir, 'pinned', 'Dockerfile'));

    const use = finalBase(analyseDockerfile(dockerfileText, 'images/child/Dockerfile', buildArgs));
    expect(use).toBeDefined();
    const labels = imageLabels({
      revision: 'b'.repeat(40),
      created: new Date('2024-05-01T12:00:00Z'),
      title: 'child',
      base: baseImage(use!, pins),
    });
    const req = request('child', contextDir, { dockerfile, buildArgs, labels, workDir });
    const logFrom = registry.log().length;
    const { digest } = await builder().build(req, exec, () => undefined);
    // The parent came from local storage: the registry was never asked for it.
    const parentReads = accessLog(registry.log().slice(logFrom)).filter((entry) =>
      entry.path.startsWith('/v2/test/parent/'),
    );
    expect(parentReads).toEqual([]);

    expect(await servedDigest('test/child', 'build-1')).toBe(digest);
    const parentLayers = (await manifest('test/parent', parent)).layers.map((l) => l.digest);
    const childLayers = (await manifest('test/child', digest)).layers.map((l) => l.digest);
    expect(childLayers).toHaveLength(parentLayers.length + 1);
    expect(childLayers.slice(0, parentLayers.length)).toEqual(parentLayers);
    expect((await config('test/child', digest)).config.Labels).toMatchObject({
      'org.opencontainers.image.base.name': `${registry.host}/test/parent:latest`,
      'org.opencontainers.image.base.digest': parent,
    });
    expect(await readdir(contextDir)).toEqual(before);

    // The run's end removes what was kept.
    await parentBuilder.finish(exec, () => undefined);
    expect(await existsLocally(`${registry.host}/test/parent@${parent}`)).toBe(false);
  },
  BUILD_TIMEOUT,
);

test(
  'builds two platforms into a manifest list and pushes every image of it',
  async () => {
    const contextDir = await context('multi', {
      Dockerfile: 'FROM scratch\nCOPY busybox /bin/busybox\nCOPY hello.txt /hello.txt\n',
      'hello.txt': 'hello\n',
    });
    const req = request('multi', contextDir, { platforms: ['linux/amd64', 'linux/arm64'] });
    const recorder = recordExec(exec);

    const { digest } = await builder().build(req, recorder.exec, () => undefined);

    expect(await servedDigest('test/multi', 'build-1')).toBe(digest);
    const list = await manifest('test/multi', digest);
    expect(list.mediaType).toBe('application/vnd.docker.distribution.manifest.list.v2+json');
    expect(list.manifests.map((m) => m.platform.architecture).sort()).toEqual(['amd64', 'arm64']);
    expect(new Set(list.manifests.map((m) => m.digest)).size).toBe(2);
    for (const entry of list.manifests) {
      expect((await config('test/multi', entry.digest)).architecture).toBe(
        entry.platform.architecture,
      );
    }

    const local = buildahLocalName(req);
    const argvs = recorder.argvs();
    expect(argvs.slice(0, 3)).toEqual([
      ['buildah', '--storage-driver', SETTINGS.storageDriver, 'manifest', 'rm', local],
      ['buildah', ...buildahBuildArgs(req, SETTINGS)],
      ['buildah', ...buildahPushArgs(req, SETTINGS, local, buildahImageDir(req))],
    ]);
    // Then the list and the two per-platform images it was made of are removed.
    const storage = ['buildah', '--storage-driver', SETTINGS.storageDriver];
    expect(argvs[3]).toEqual([...storage, 'manifest', 'rm', local]);
    expect(argvs[4]!.slice(0, 4)).toEqual([...storage, 'rmi']);
    expect(argvs[4]!.slice(4)).toEqual([
      expect.stringMatching(/^[a-f0-9]{64}$/),
      expect.stringMatching(/^[a-f0-9]{64}$/),
    ]);
    expect(argvs).toHaveLength(5);
    expect(recorder.runs.slice(1).map((run) => run.result.exitCode)).toEqual([0, 0, 0, 0]);
    expect(await existsLocally(local)).toBe(false);
  },
  BUILD_TIMEOUT,
);

test(
  'a failing RUN is a BuildError with the exit code and the end of the output',
  async () => {
    const contextDir = await context('broken', {
      Dockerfile: [
        'FROM scratch',
        'COPY busybox /bin/busybox',
        'RUN ["/bin/busybox", "--install", "-s", "/bin"]',
        'RUN echo "about to fail" && exit 3',
        '',
      ].join('\n'),
    });
    const req = request('broken', contextDir, {});
    const recorder = recordExec(exec);

    const error = await builder()
      .build(req, recorder.exec, () => undefined)
      .then(
        () => undefined,
        (caught: unknown) => caught,
      );

    expect(error).toBeInstanceOf(BuildError);
    const buildError = error as BuildError;
    expect(buildError.image).toBe('broken');
    expect(buildError.exitCode).toBe(3);
    expect(buildError.message).toMatch(/^building broken failed \(exit 3\):\n/);
    expect(buildError.message).toContain('about to fail');
    expect(buildError.tail.length).toBeGreaterThan(0);
    expect(buildError.command).toBe(formatCommand('buildah', buildahBuildArgs(req, SETTINGS)));
    // Nothing is pushed after a failed build.
    expect(recorder.argvs()).toHaveLength(1);
  },
  BUILD_TIMEOUT,
);
