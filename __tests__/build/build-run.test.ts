// The whole build for real: Buildah builds pushed to the distribution registry on
// 127.0.0.1, children on the exact parents built in the same run, publishing order, a
// failing RUN, and a rerun that builds and uploads nothing.
import { UserError } from '../../src/core/errors.js';
import type { FileChanges } from '../support/git-repo.js';
import { cleanupRepos, makeRepoWithBusybox } from '../support/git-repo.js';
import type { TestRegistry } from '../support/registry.js';
import { accessLog, startRegistry } from '../support/registry.js';
import { inspectRegistry } from '../support/registry-inspect.js';
import { githubPushBuild, runInProcess } from '../support/github-build.js';

// Real builds: generous, though the whole file takes seconds here.
const BUILD_TIMEOUT = 240_000;

let registry: TestRegistry;
beforeAll(async () => {
  registry = await startRegistry();
});
afterAll(async () => {
  await registry.stop();
  await cleanupRepos();
});

const { manifestOf, labelsOf } = inspectRegistry(() => registry.host);

/** Blob uploads the registry has logged so far (POST/PUT under /blobs/uploads/). */
function blobUploads(): number {
  return registry
    .log()
    .split('\n')
    .filter((line) => /"(POST|PUT) \/v2\/[^"]*\/blobs\/uploads\//.test(line)).length;
}

const BASE_FILES = (namespace: string): FileChanges => ({
  'image-builder.yml': `registry: ${registry.host}/${namespace}\nbuild-args:\n  REGISTRY: '{registry}'\n`,
  'base/Dockerfile':
    'FROM scratch\nCOPY rootfs/ /\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\nRUN echo base > /release\n',
  'app/Dockerfile':
    'ARG REGISTRY\nFROM ${REGISTRY}/base:latest\nCOPY app.txt /app.txt\nRUN cat /release /app.txt > /app.out\n',
  'app/app.txt': 'app 1\n',
  'plugin/Dockerfile': 'ARG REGISTRY\nFROM ${REGISTRY}/app:latest\nCOPY plugin.txt /plugin.txt\n',
  'plugin/plugin.txt': 'plugin 1\n',
  'web/Dockerfile': 'FROM scratch\nCOPY site/ /srv/\n',
  'web/site/index.html': '<h1>hi</h1>\n',
});

function repoFor(namespace: string, files: FileChanges = {}) {
  return makeRepoWithBusybox({ ...BASE_FILES(namespace), ...files });
}

describe('build with Buildah into a real registry', () => {
  test(
    'a three-level chain and an independent image: children on the parents built in this run',
    async () => {
      const { repo, first } = await repoFor('chain');
      // First the whole set (a new branch: every image), so the registry has them all.
      const all = await githubPushBuild(repo, '0'.repeat(40), first);
      expect(all.error).toBeUndefined();
      const second = await repo.commit('base 2', {
        'base/Dockerfile':
          'FROM scratch\nCOPY rootfs/ /\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\nRUN echo base 2 > /release\n',
      });

      const { error, outputs, output } = await githubPushBuild(repo, first, second);
      expect(error).toBeUndefined();
      const images = JSON.parse(outputs.get('images') ?? '{}') as Record<
        string,
        { status: string; digest: string; tags: string[] }
      >;
      expect(Object.keys(images)).toEqual(['base', 'app', 'plugin']);
      for (const name of ['base', 'app', 'plugin']) {
        expect(images[name]?.status).toBe('built');
        expect(images[name]?.tags).toEqual(expect.arrayContaining([second, 'main', 'latest']));
        // The tags the run reports are the registry's truth.
        expect((await manifestOf(`chain/${name}`, second))?.digest).toBe(images[name]?.digest);
        expect((await manifestOf(`chain/${name}`, 'latest'))?.digest).toBe(images[name]?.digest);
      }
      // The child records, and is built on, exactly the parent this run pushed.
      const appLabels = await labelsOf('chain/app', second);
      expect(appLabels['org.opencontainers.image.base.digest']).toBe(images.base?.digest);
      expect(appLabels['org.opencontainers.image.revision']).toBe(second);
      expect(appLabels['org.opencontainers.image.title']).toBe('app');
      expect(appLabels['org.opencontainers.image.source']).toBe('https://github.com/acme/images');
      const baseLayers =
        (await manifestOf('chain/base', second))?.manifest.layers.map((l) => l.digest) ?? [];
      const appLayers =
        (await manifestOf('chain/app', second))?.manifest.layers.map((l) => l.digest) ?? [];
      expect(baseLayers.length).toBeGreaterThan(0);
      expect(appLayers.slice(0, baseLayers.length)).toEqual(baseLayers);
      expect(output).toMatch(/\[1\/3\] base: building/);

      // A rerun of the same push builds nothing and uploads no layer.
      const uploads = blobUploads();
      expect(uploads).toBeGreaterThan(0);
      const logFrom = registry.log().length;
      const rerun = await githubPushBuild(repo, first, second);
      expect(rerun.error).toBeUndefined();
      // Every tag is already right: the rerun only reads.
      const writes = accessLog(registry.log().slice(logFrom)).filter(
        (entry) => entry.method !== 'GET' && entry.method !== 'HEAD',
      );
      expect(writes).toEqual([]);
      const again = JSON.parse(rerun.outputs.get('images') ?? '{}') as Record<
        string,
        { status: string; digest: string }
      >;
      expect(Object.values(again).map((image) => image.status)).toEqual([
        'reused',
        'reused',
        'reused',
      ]);
      expect(again.app?.digest).toBe(images.app?.digest);
      expect(blobUploads()).toBe(uploads);

      // A later commit that leaves the images' inputs alone reuses every build, and each
      // still gets that commit's tag (the next job may look its parent up by it).
      const third = await repo.commit('docs only', { 'NOTES.md': 'nothing for the images\n' });
      const later = await githubPushBuild(repo, '0'.repeat(40), third);
      expect(later.error).toBeUndefined();
      for (const name of ['base', 'app', 'plugin']) {
        expect(later.images[name]?.status).toBe('reused');
        expect(later.images[name]?.digest).toBe(images[name]?.digest);
        expect(later.images[name]?.tags).toEqual(expect.arrayContaining([third, 'main']));
        expect((await manifestOf(`chain/${name}`, third))?.digest).toBe(images[name]?.digest);
      }
      expect(blobUploads()).toBe(uploads);
    },
    BUILD_TIMEOUT,
  );

  test(
    'a failing RUN: siblings pushed, descendants skipped, latest untouched, a clear error',
    async () => {
      const { repo, first } = await repoFor('failing');
      const all = await githubPushBuild(repo, '0'.repeat(40), first);
      expect(all.error).toBeUndefined();
      const latestBefore = {
        app: (await manifestOf('failing/app', 'latest'))?.digest,
        web: (await manifestOf('failing/web', 'latest'))?.digest,
      };
      const second = await repo.commit('break app, change web', {
        'app/Dockerfile':
          'ARG REGISTRY\nFROM ${REGISTRY}/base:latest\nRUN echo "compiling…" && echo "error: missing symbol" && exit 3\n',
        'web/site/index.html': '<h1>hi 2</h1>\n',
      });
      const { error, outputs, output } = await githubPushBuild(repo, first, second);
      expect(error).toBeInstanceOf(UserError);
      expect(error?.message).toMatch(/1 of 3 images failed: app/);
      expect(error?.message).toContain('error: missing symbol');
      const images = JSON.parse(outputs.get('images') ?? '{}') as Record<
        string,
        { status: string; detail?: string }
      >;
      expect(images.app?.status).toBe('failed');
      expect(images.plugin?.status).toBe('skipped');
      expect(JSON.parse(outputs.get('skipped') ?? '[]')).toEqual(['plugin']);
      expect(images.web?.status).toBe('built');
      expect(await manifestOf('failing/web', second)).toBeDefined();
      // latest moves only when the whole run succeeded.
      expect((await manifestOf('failing/web', 'latest'))?.digest).toBe(latestBefore.web);
      expect((await manifestOf('failing/app', 'latest'))?.digest).toBe(latestBefore.app);
      expect(await manifestOf('failing/plugin', second)).toBeUndefined();
      expect(output).toMatch(/not moved, because not every image succeeded: .*failing\/web:latest/);
    },
    BUILD_TIMEOUT,
  );
});

describe('promote after a staged build (seed 000: staging, then release)', () => {
  test(
    'release points at the staging digest and no layer moves',
    async () => {
      const { repo, first } = await repoFor('staged', {
        'image-builder.yml': `registry: ${registry.host}/staged\ntags: [staging]\nbuild-args:\n  REGISTRY: '{registry}'\n`,
      });
      const built = await githubPushBuild(repo, '0'.repeat(40), first);
      expect(built.error).toBeUndefined();
      const uploads = blobUploads();
      const promotion = await runInProcess({
        command: 'promote',
        repoDir: repo.dir,
        promoteFrom: 'staging',
        promoteTo: ['release'],
      });
      expect(promotion.error).toBeUndefined();
      for (const name of ['base', 'app', 'plugin', 'web']) {
        const staging = await manifestOf(`staged/${name}`, 'staging');
        expect(staging).toBeDefined();
        expect((await manifestOf(`staged/${name}`, 'release'))?.digest).toBe(staging?.digest);
      }
      expect(blobUploads()).toBe(uploads);
      const promoted = JSON.parse(promotion.outputs.get('promoted') ?? '{}') as Record<
        string,
        { tags: string[] }
      >;
      expect(Object.keys(promoted).sort()).toEqual(['app', 'base', 'plugin', 'web']);
      expect(promotion.output).toContain('promoted 4 images; no layer was uploaded');
    },
    BUILD_TIMEOUT,
  );
});

describe('fan-out: one image per job', () => {
  test(
    'a single-image build builds on the parent an earlier job built for this commit',
    async () => {
      const { repo, first } = await repoFor('fanout');
      const job = async (images: string[]) => {
        const ran = await runInProcess({ command: 'build', repoDir: repo.dir, images });
        if (ran.error) throw ran.error;
        return { outputs: ran.outputs, log: ran.output };
      };
      const base = await job(['base']);
      const baseDigest = (
        JSON.parse(base.outputs.get('images') ?? '{}') as Record<string, { digest: string }>
      ).base?.digest;
      expect((await manifestOf('fanout/base', first))?.digest).toBe(baseDigest);

      const app = await job(['app']);
      expect(app.log).toContain(
        `parent base was built for this commit by an earlier job: ${baseDigest}`,
      );
      const labels = await labelsOf('fanout/app', first);
      expect(labels['org.opencontainers.image.base.digest']).toBe(baseDigest);
      const baseLayers =
        (await manifestOf('fanout/base', first))?.manifest.layers.map((l) => l.digest) ?? [];
      const appLayers =
        (await manifestOf('fanout/app', first))?.manifest.layers.map((l) => l.digest) ?? [];
      expect(appLayers.slice(0, baseLayers.length)).toEqual(baseLayers);
    },
    BUILD_TIMEOUT,
  );
});
