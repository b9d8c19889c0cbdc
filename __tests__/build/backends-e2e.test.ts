// A whole `image-builder build` of a small monorepo through each backend that cannot run
// here (buildx, Kaniko, pack): recording fakes stand in for the tools and push a tiny image
// to the real registry where the real tool would, so tagging, pinning and ordering run for real.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { kanikoKeeps, parseMountPoints } from '../../src/builders/kaniko.js';
import type { FakeRecord, FakeResponse } from '../support/fake-tools.js';
import { FakeTools, PASSWORD, USER, secretForms } from '../support/fake-tools.js';
import type { FileChanges } from '../support/git-repo.js';
import { cleanupRepos, makeRepo } from '../support/git-repo.js';
import { githubPushBuild } from '../support/github-build.js';
import type { TestRegistry } from '../support/registry.js';
import { accessLog, startRegistry } from '../support/registry.js';

const TIMEOUT = 30_000;

/**
 * Kaniko cleans its container's filesystem between builds and the run refuses to keep its
 * credentials where that would delete them. In a Kaniko container the run's temp folder is
 * on a volume; here /dev/shm (a tmpfs mount) plays that part.
 */
async function withTempOnMount<T>(body: () => Promise<T>): Promise<T> {
  const original = process.env.TMPDIR;
  const folder = await mkdtemp(join('/dev/shm', 'image-builder-kaniko-'));
  process.env.TMPDIR = folder;
  try {
    expect(
      kanikoKeeps(folder, parseMountPoints(readFileSync('/proc/self/mountinfo', 'utf8'))),
    ).toBe(true);
    return await body();
  } finally {
    if (original === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = original;
    await rm(folder, { recursive: true, force: true });
  }
}

let registry: TestRegistry;
let fakes: FakeTools;
beforeAll(async () => {
  registry = await startRegistry({ basicAuth: { username: USER, password: PASSWORD } });
});
beforeEach(async () => {
  fakes = await FakeTools.create();
});
afterEach(async () => {
  await fakes.remove();
});
afterAll(async () => {
  await registry.stop();
  await cleanupRepos();
});

const AUTH = (): string => `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;

async function api(path: string): Promise<Response> {
  return fetch(`http://${registry.host}/v2/${path}`, {
    headers: {
      Authorization: AUTH(),
      Accept: 'application/vnd.docker.distribution.manifest.v2+json',
    },
  });
}

async function tagsOf(repository: string): Promise<string[]> {
  const response = await api(`${repository}/tags/list`);
  return (((await response.json()) as { tags?: string[] }).tags ?? []).sort();
}

async function digestOf(repository: string, tag: string): Promise<string | null> {
  return (await api(`${repository}/manifests/${tag}`)).headers.get('docker-content-digest');
}

const DOCKER_FILES = (namespace: string, extra: string): FileChanges => ({
  'image-builder.yml': `registry: ${registry.host}/${namespace}\nbuild-args:\n  REGISTRY: '{registry}'\n${extra}`,
  'base/Dockerfile': 'FROM scratch\nCOPY base.txt /\n',
  'base/base.txt': 'base\n',
  'app/Dockerfile': 'ARG REGISTRY\nFROM ${REGISTRY}/base:latest\nCOPY app.txt /\n',
  'app/app.txt': 'app\n',
  'web/Dockerfile': 'FROM scratch\nCOPY index.html /\n',
  'web/index.html': '<h1>hi</h1>\n',
});

/** Commits the files and builds every image as a GitHub push to a new main branch. */
async function build(
  files: FileChanges,
): Promise<{ repoDir: string; sha: string; output: string }> {
  const repo = await makeRepo();
  await repo.write(files);
  await repo.git('add', '-A');
  const sha = await repo.commit('images');
  const built = await githubPushBuild(repo, '0'.repeat(40), sha, {
    maxParallel: 3,
    settings: { registryUsername: USER, registryPassword: PASSWORD },
    env: {
      PATH: `${fakes.bin}:${process.env.PATH ?? ''}`,
      ...(process.env.TMPDIR !== undefined ? { TMPDIR: process.env.TMPDIR } : {}),
    },
    dependencies: { exec: fakes.exec },
  });
  if (built.error) throw new Error(`${built.error.message}\n${built.output}`);
  return { repoDir: repo.dir, sha, output: built.output };
}

function flag(record: FakeRecord, name: string): string {
  const index = record.argv.indexOf(name);
  if (index < 0) throw new Error(`no ${name} in ${record.argv.join(' ')}`);
  return record.argv[index + 1] as string;
}

/** The `--label`/`--env` pairs of a record, as written. */
function pairs(record: FakeRecord, name: string): string[] {
  return record.argv.flatMap((word, index) =>
    word === name ? [name, record.argv[index + 1] as string] : [],
  );
}

function imageOf(record: FakeRecord, namespace: string): string {
  const ref = record.pushed?.ref ?? '';
  return ref.slice(`${registry.host}/${namespace}/`.length).split(':')[0] ?? '';
}

/** What every backend shares: credentials, tags, push order, the child's pinned parent. */
async function checkRun(
  pushes: FakeRecord[],
  namespace: string,
  images: string[],
  sha: string,
): Promise<void> {
  const all = await fakes.records();
  const expectedAuth = Buffer.from(`${USER}:${PASSWORD}`).toString('base64');
  for (const record of all) {
    const joined = record.argv.join(' ');
    for (const secret of secretForms()) expect(joined).not.toContain(secret);
    const dockerConfig = record.env.DOCKER_CONFIG ?? '';
    const config = JSON.parse(record.files[join(dockerConfig, 'config.json')] ?? '{}') as {
      auths: Record<string, { auth: string }>;
    };
    expect(config.auths[registry.host]?.auth).toBe(expectedAuth);
  }
  expect(pushes.map((record) => imageOf(record, namespace)).sort()).toEqual([...images].sort());
  const log = accessLog(registry.log());
  for (const record of pushes) {
    const image = imageOf(record, namespace);
    const repository = `${namespace}/${image}`;
    // The immutable tag is the builder's push; nothing else was in the repository yet.
    expect(record.pushed?.ref).toBe(`${registry.host}/${repository}:${sha}`);
    expect(record.pushed?.tagsBefore).toEqual([]);
    const tags = await tagsOf(repository);
    const content = tags.filter((tag) => tag.startsWith('src-'));
    expect(content).toHaveLength(1);
    expect(tags.filter((tag) => !tag.startsWith('src-'))).toEqual([sha, 'latest', 'main'].sort());
    for (const tag of tags) expect(await digestOf(repository, tag)).toBe(record.pushed?.digest);
    // latest moves last, after the run's fixed tags.
    const puts = log
      .filter(
        (entry) => entry.method === 'PUT' && entry.path.startsWith(`/v2/${repository}/manifests/`),
      )
      .map((entry) => entry.path.split('/').pop());
    expect(puts[0]).toBe(sha);
    expect(puts[puts.length - 1]).toBe('latest');
  }
}

/** The child's Dockerfile is the pinned copy in its work folder: FROM the parent's digest. */
function checkPinned(pushes: FakeRecord[], namespace: string, dockerfileFlag: string): void {
  const parent = pushes.find((record) => imageOf(record, namespace) === 'base');
  const child = pushes.find((record) => imageOf(record, namespace) === 'app') as FakeRecord;
  const dockerfile = flag(child, dockerfileFlag);
  expect(dockerfile.endsWith(join('app', 'Dockerfile'))).toBe(false);
  expect(child.files[dockerfile]).toContain(
    `FROM ${registry.host}/${namespace}/base@${parent?.pushed?.digest}`,
  );
  expect(pairs(child, '--label')).toContain(
    `org.opencontainers.image.base.digest=${parent?.pushed?.digest}`,
  );
}

describe('build through the fake backends into a real registry', () => {
  test(
    'buildx: one docker buildx build per image, the registry cache, provenance and sbom',
    async () => {
      const responses: FakeResponse[] = [
        {
          when: ['buildx', 'inspect'],
          stdout: ['Name: ci', 'Driver: docker-container', 'Nodes:', 'Status: running'],
        },
        {
          when: ['buildx', 'build'],
          reads: ['-f'],
          push: { ref: { flag: '--tag' }, digest: { metadataFile: '--metadata-file' } },
        },
      ];
      await fakes.install('docker', responses);
      const ns = 'bx';
      const { repoDir, sha } = await build(
        DOCKER_FILES(
          ns,
          'builder: buildx\ncache: registry\nbuildx:\n  provenance: false\n  sbom: false\n',
        ),
      );
      const records = await fakes.records('docker');
      expect(records[0]?.argv).toEqual(['buildx', 'inspect', '--bootstrap']);
      const pushes = records.slice(1);
      for (const record of pushes) {
        const image = imageOf(record, ns);
        const repository = `${registry.host}/${ns}/${image}`;
        const workDir = dirname(flag(record, '--metadata-file'));
        expect(workDir.endsWith(image)).toBe(true);
        const dockerfile =
          image === 'app'
            ? join(workDir, flag(record, '-f').slice(workDir.length + 1))
            : join(repoDir, image, 'Dockerfile');
        expect(record.argv).toEqual([
          'buildx',
          'build',
          '--output',
          'type=registry,registry.insecure=true',
          '--metadata-file',
          join(workDir, 'metadata.json'),
          '-f',
          dockerfile,
          '--tag',
          `${repository}:${sha}`,
          '--build-arg',
          `REGISTRY=${registry.host}/${ns}`,
          ...pairs(record, '--label'),
          '--provenance=false',
          '--sbom=false',
          '--cache-from',
          `type=registry,ref=${repository}:buildcache,registry.insecure=true`,
          '--cache-to',
          `type=registry,ref=${repository}:buildcache,mode=max,image-manifest=true,oci-mediatypes=true,registry.insecure=true`,
          join(repoDir, image),
        ]);
        expect(pairs(record, '--label')).toEqual(
          expect.arrayContaining([
            `org.opencontainers.image.revision=${sha}`,
            `org.opencontainers.image.title=${image}`,
            'org.opencontainers.image.source=https://github.com/acme/images',
          ]),
        );
        expect(record.env.BUILDX_CONFIG).not.toBe(record.env.DOCKER_CONFIG);
      }
      checkPinned(pushes, ns, '-f');
      await checkRun(pushes, ns, ['base', 'app', 'web'], sha);
    },
    TIMEOUT,
  );

  test(
    'kaniko: the configured executor, one image at a time, --cleanup between them',
    () =>
      withTempOnMount(async () => {
        const executor = join(fakes.root, 'kaniko', 'executor');
        await fakes.install(
          'kaniko',
          [
            {
              reads: ['--dockerfile'],
              push: {
                ref: { flag: '--destination' },
                digest: { digestFile: '--digest-file' },
                delay: 150,
              },
            },
          ],
          executor,
        );
        const ns = 'kn';
        const { repoDir, sha } = await build(
          DOCKER_FILES(ns, `builder: kaniko\ncache: registry\nkaniko:\n  executor: ${executor}\n`),
        );
        const pushes = await fakes.records('kaniko');
        for (const record of pushes) {
          const image = imageOf(record, ns);
          const repository = `${registry.host}/${ns}/${image}`;
          const workDir = dirname(flag(record, '--digest-file'));
          expect(workDir.endsWith(image)).toBe(true);
          const dockerfile =
            image === 'app' ? flag(record, '--dockerfile') : join(repoDir, image, 'Dockerfile');
          expect(record.argv).toEqual([
            '--context',
            `dir://${join(repoDir, image)}`,
            '--dockerfile',
            dockerfile,
            '--destination',
            `${repository}:${sha}`,
            '--digest-file',
            join(workDir, 'digest'),
            '--push-retry',
            '3',
            '--build-arg',
            `REGISTRY=${registry.host}/${ns}`,
            ...pairs(record, '--label'),
            '--cache=true',
            '--cache-repo',
            `${repository}/cache`,
            '--cleanup',
            '--insecure',
            '--insecure-pull',
            '--skip-tls-verify',
          ]);
          expect(dockerfile.startsWith(workDir)).toBe(image === 'app');
        }
        // One at a time: each build starts after the previous one ended.
        const byStart = [...pushes].sort((a, b) => a.started - b.started);
        for (let i = 1; i < byStart.length; i++) {
          expect(byStart[i]?.started).toBeGreaterThanOrEqual(byStart[i - 1]?.ended ?? Infinity);
        }
        checkPinned(pushes, ns, '--dockerfile');
        await checkRun(pushes, ns, ['base', 'app', 'web'], sha);
      }),
    TIMEOUT,
  );

  test(
    'pack: project.toml images with the pinned builder, lifecycle and environment',
    async () => {
      await fakes.install('pack', [
        { when: ['build'], push: { ref: { position: 1 }, digest: 'pack-output' } },
      ]);
      const ns = 'pk';
      const { repoDir, sha } = await build({
        'image-builder.yml': [
          `registry: ${registry.host}/${ns}`,
          'pack:',
          '  builder: paketobuildpacks/builder:0.2.326-full',
          "  lifecycle-version: '0.16.0'",
          '  env:',
          "    BP_JVM_VERSION: '17'",
          '',
        ].join('\n'),
        'hello/project.toml': '[_]\nschema-version = "0.2"\nid = "hello"\n',
        'world/project.toml': '[_]\nschema-version = "0.2"\nid = "world"\n',
      });
      const pushes = await fakes.records('pack');
      for (const record of pushes) {
        const image = imageOf(record, ns);
        const env = pairs(record, '--env');
        expect(record.argv).toEqual([
          'build',
          `${registry.host}/${ns}/${image}:${sha}`,
          '--builder',
          'paketobuildpacks/builder:0.2.326-full',
          '--path',
          join(repoDir, image),
          '--publish',
          '--lifecycle-image',
          'buildpacksio/lifecycle:0.16.0',
          ...env,
          '--insecure-registry',
          registry.host,
        ]);
        expect(env).toEqual(
          expect.arrayContaining([
            'BP_JVM_VERSION=17',
            `BP_OCI_REVISION=${sha}`,
            `BP_OCI_TITLE=${image}`,
          ]),
        );
      }
      await checkRun(pushes, ns, ['hello', 'world'], sha);
    },
    TIMEOUT,
  );
});
