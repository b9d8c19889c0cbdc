// A no-op rerun's registry requests per image, next to the first build's of the same push,
// measured in this run. A repository of 10 images (three levels: FROM scratch with a static
// busybox, children FROM them in the same repository) is built with Buildah by
// `image-builder build` in-process, as GitHub Actions runs it for a push that creates
// `main`: every image is built. Then the same push event runs again, as a CI re-run does:
// every image must be `reused`, and no blob may be uploaded.
//
// The images' repositories point at a streaming counting proxy in front of one real
// distribution registry on 127.0.0.1, so every request is counted: ours and Buildah's
// (pushes, pulls of parents), pings included. Anonymous registry: no token requests.
// Buildah gets a fresh storage of its own, so the first run pulls what a fresh runner would.
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildahSettings } from '../src/builders/buildah.js';
import { cleanupRepos, makeRepo } from '../__tests__/support/git-repo.js';
import { githubPushBuild } from '../__tests__/support/github-build.js';
import type { ReportedImage } from '../__tests__/support/github-build.js';
import { startCountingProxy } from '../__tests__/support/counting-proxy.js';
import type { CountedRequest } from '../__tests__/support/counting-proxy.js';
import { startRegistry } from '../__tests__/support/registry.js';
import { findBusybox } from '../__tests__/support/busybox.js';

export interface NoopRerunFigures {
  images: number;
  /** The first build of the push: requests per image, everything counted. */
  firstRequestsPerImage: number;
  /** The same push run again: requests per image, everything counted. */
  rerunRequestsPerImage: number;
  /** The rerun's requests per image other than the `/v2/` ping. */
  rerunWorkPerImage: number;
  /** rerunRequestsPerImage / firstRequestsPerImage. */
  ratio: number;
  /** Blob uploads of the rerun (must be 0). */
  rerunBlobUploads: number;
  /** Blob uploads and bytes of the first build, for scale. */
  firstBlobUploads: number;
  firstUploadedBytes: number;
  firstSeconds: number;
  rerunSeconds: number;
  /** The rerun's requests for one image (`app-1`), as method and path pattern. */
  rerunRequestsOfOneImage: Record<string, number>;
}

const run = promisify(execFile);

const NAMESPACE = 'bench';
/** The image whose rerun requests are listed one by one. */
const SHOWN = 'app-1';

/** Each image and the image of this repository it is built FROM (none: FROM scratch). */
const IMAGES: Record<string, string | undefined> = {
  base: undefined,
  tools: 'base',
  'app-1': 'base',
  'app-2': 'base',
  'app-3': 'base',
  'app-1-plugin': 'app-1',
  'tools-cli': 'tools',
  web: undefined,
  'web-assets': 'web',
  docs: undefined,
};

/**
 * Points Buildah (run by the builds, which inherit this process's environment) at a fresh
 * storage of its own for the duration: the first run starts from an empty cache, as on a
 * fresh runner, and no other Buildah user of the machine removes layers under it.
 * Returns what undoes it.
 */
async function privateBuildahStorage(): Promise<() => Promise<void>> {
  const dir = await mkdtemp(join(tmpdir(), 'image-builder-bench-storage-'));
  const conf = join(dir, 'storage.conf');
  const driver = buildahSettings(process.env).storageDriver;
  await writeFile(
    conf,
    `[storage]\ndriver = "${driver}"\ngraphroot = "${join(dir, 'graph')}"\nrunroot = "${join(dir, 'run')}"\n`,
  );
  const before = process.env.CONTAINERS_STORAGE_CONF;
  process.env.CONTAINERS_STORAGE_CONF = conf;
  return async () => {
    if (before === undefined) delete process.env.CONTAINERS_STORAGE_CONF;
    else process.env.CONTAINERS_STORAGE_CONF = before;
    // vfs copies are plain files; other drivers may leave mounts Buildah must undo first.
    await run('buildah', ['--storage-driver', driver, 'rmi', '--all', '--force'], {
      env: { ...process.env, CONTAINERS_STORAGE_CONF: conf },
    }).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  };
}

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; seconds: number }> {
  const started = performance.now();
  const value = await work();
  return { value, seconds: (performance.now() - started) / 1000 };
}

/** `HEAD /v2/bench/app-1/manifests/<tag>` with the tag named by its kind. */
function pattern(request: CountedRequest, sha: string): string {
  const path = request.url
    .replace(/\?.*$/, '')
    .replace(/\/sha256:[0-9a-f]{64}/, '/<digest>')
    .replace(new RegExp(`/${sha}$`), '/<sha>')
    .replace(/\/src-[0-9a-f]+$/, '/src-<key>');
  return `${request.method} ${path}`;
}

function checkStatuses(
  label: string,
  images: Record<string, ReportedImage>,
  expected: ReportedImage['status'],
): void {
  const names = Object.keys(IMAGES);
  const wrong = names.filter((name) => images[name]?.status !== expected);
  if (wrong.length > 0) {
    const found = wrong.map((name) => `${name}: ${images[name]?.status ?? 'missing'}`);
    throw new Error(`${label}: expected every image ${expected}, got ${found.join(', ')}`);
  }
}

export async function benchNoopRerun(): Promise<NoopRerunFigures> {
  const restoreStorage = await privateBuildahStorage();
  try {
    return await measure();
  } finally {
    await restoreStorage();
  }
}

async function measure(): Promise<NoopRerunFigures> {
  const registry = await startRegistry();
  const proxy = await startCountingProxy(registry.host);
  try {
    const busybox = await findBusybox();
    const repo = await makeRepo();
    const files: Record<string, string> = {
      'image-builder.yml': `registry: ${proxy.host}/${NAMESPACE}\nbuild-args:\n  REGISTRY: '{registry}'\n`,
    };
    for (const [name, parent] of Object.entries(IMAGES)) {
      files[`${name}/Dockerfile`] =
        parent === undefined
          ? `FROM scratch\nCOPY busybox /bin/busybox\nCOPY ${name}.txt /${name}.txt\n`
          : `ARG REGISTRY\nFROM \${REGISTRY}/${parent}:latest\nCOPY ${name}.txt /${name}.txt\n`;
      files[`${name}/${name}.txt`] = `${name}\n`;
    }
    await repo.write(files);
    for (const [name, parent] of Object.entries(IMAGES)) {
      if (parent === undefined) await copyFile(busybox, join(repo.dir, name, 'busybox'));
    }
    await repo.git('add', '-A');
    const sha = await repo.commit('images');
    const before = '0'.repeat(40);
    const count = Object.keys(IMAGES).length;

    proxy.reset();
    const first = await timed(() => githubPushBuild(repo, before, sha));
    if (first.value.error) throw first.value.error;
    checkStatuses('first run', first.value.images, 'built');
    const firstRequests = proxy.requests.length;
    const firstBlobUploads = proxy.blobUploads().length;
    const firstUploadedBytes = proxy.uploadedBytes();

    proxy.reset();
    const rerun = await timed(() => githubPushBuild(repo, before, sha));
    if (rerun.value.error) throw rerun.value.error;
    checkStatuses('rerun', rerun.value.images, 'reused');
    for (const name of Object.keys(IMAGES)) {
      if (rerun.value.images[name]?.digest !== first.value.images[name]?.digest)
        throw new Error(`rerun: ${name} names another digest than the first run's`);
    }
    const rerunRequests = proxy.requests.length;
    const rerunWork = proxy.work().length;
    const rerunBlobUploads = proxy.blobUploads().length;
    if (rerunBlobUploads !== 0) throw new Error(`rerun uploaded ${rerunBlobUploads} blobs`);

    const rerunRequestsOfOneImage: Record<string, number> = {};
    const shownPath = `/v2/${NAMESPACE}/${SHOWN}/`;
    for (const request of proxy.requests) {
      if (!request.url.startsWith(shownPath)) continue;
      const key = pattern(request, sha);
      rerunRequestsOfOneImage[key] = (rerunRequestsOfOneImage[key] ?? 0) + 1;
    }

    const firstRequestsPerImage = firstRequests / count;
    const rerunRequestsPerImage = rerunRequests / count;
    return {
      images: count,
      firstRequestsPerImage,
      rerunRequestsPerImage,
      rerunWorkPerImage: rerunWork / count,
      ratio: rerunRequestsPerImage / firstRequestsPerImage,
      rerunBlobUploads,
      firstBlobUploads,
      firstUploadedBytes,
      firstSeconds: first.seconds,
      rerunSeconds: rerun.seconds,
      rerunRequestsOfOneImage,
    };
  } finally {
    await proxy.stop();
    await registry.stop();
    await cleanupRepos();
  }
}
