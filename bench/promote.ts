// Promotion of 100 tags (`staging` -> `release`) with promoteImages, next to
// `skopeo copy` of the same 100 tags, against one real distribution registry on
// 127.0.0.1. Requests are counted by a streaming proxy that every request goes through
// (ours and skopeo's alike), so both pay the same small toll.
//
// The data set is 100 small images, each in its own repository (`bench/img-000` …) with
// its own config, sharing one layer: promotion jobs promote one tag per image, in as many
// repositories as images, which is what a monorepo's release step does. One image under
// 100 tags would let a registry answer from one warm manifest and favour whoever caches.
//
// skopeo is run once per tag, one after the other, as release scripts call it; the figure
// with 8 at a time is returned too. skopeo's per-run blob-info cache may spare it requests;
// that only helps it.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createLimit } from '../src/core/limit.js';
import { promoteImages } from '../src/promote/promote.js';
import { RegistryClient } from '../src/registry/client.js';
import { anonymousCredentials } from '../src/registry/credentials.js';
import { startCountingProxy } from '../__tests__/support/counting-proxy.js';
import { pushTestImage, startRegistry } from '../__tests__/support/registry.js';

const run = promisify(execFile);

export interface PromoteFigures {
  /** Tags promoted by each tool. */
  tags: number;
  /** promoteImages, concurrency 8. */
  seconds: number;
  /** skopeo copy, one tag after the other. */
  skopeoSeconds: number;
  /** seconds / skopeoSeconds (the goal: at most 0.15). */
  ratio: number;
  /** Requests per tag, the registry ping included (the floor is 2: GET + PUT). */
  requestsPerTag: number;
  skopeoRequestsPerTag: number;
  /** skopeo copy, 8 at a time. */
  skopeoParallelSeconds: number;
  /** seconds / skopeoParallelSeconds. */
  ratioParallel: number;
}

const TAGS = 100;
const CONCURRENCY = 8;

async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return (performance.now() - started) / 1000;
}

async function skopeoCopy(from: string, to: string): Promise<void> {
  await run('skopeo', [
    'copy',
    '--quiet',
    '--src-tls-verify=false',
    '--dest-tls-verify=false',
    '--src-no-creds',
    '--dest-no-creds',
    `docker://${from}`,
    `docker://${to}`,
  ]);
}

export async function benchPromote(): Promise<PromoteFigures> {
  const registry = await startRegistry();
  const proxy = await startCountingProxy(registry.host);
  try {
    // Pushed straight to the registry: setting up is not measured.
    const setup = new RegistryClient({ credentials: anonymousCredentials });
    const names = Array.from({ length: TAGS }, (_, i) => `bench/img-${String(i).padStart(3, '0')}`);
    const limit = createLimit(CONCURRENCY);
    const digests = await Promise.all(
      names.map((name) =>
        limit(async () => {
          const image = await pushTestImage(setup, `${registry.host}/${name}`, 'staging', {
            seed: name,
          });
          return image.digest;
        }),
      ),
    );
    const at = (name: string, tag: string): string => `${proxy.host}/${name}:${tag}`;

    // promoteImages with a fresh client: its ping is counted and timed.
    const client = new RegistryClient({ credentials: anonymousCredentials });
    proxy.reset();
    let digestsOut: string[] = [];
    const seconds = await timed(async () => {
      const results = await promoteImages({
        client,
        items: names.map((name) => ({
          image: name,
          source: at(name, 'staging'),
          targets: [at(name, 'release')],
        })),
        concurrency: CONCURRENCY,
        log: () => undefined,
      });
      digestsOut = results.map((result) => result.digest);
    });
    const requestsPerTag = proxy.requests.length / TAGS;

    proxy.reset();
    const skopeoSeconds = await timed(async () => {
      for (const name of names) await skopeoCopy(at(name, 'staging'), at(name, 'release-skopeo'));
    });
    const skopeoRequestsPerTag = proxy.requests.length / TAGS;

    const skopeoLimit = createLimit(CONCURRENCY);
    const skopeoParallelSeconds = await timed(() =>
      Promise.all(
        names.map((name) =>
          skopeoLimit(() => skopeoCopy(at(name, 'staging'), at(name, 'release-skopeo-8'))),
        ),
      ),
    );

    // Both must have done the job: every release tag names its staging digest.
    const check = createLimit(CONCURRENCY);
    await Promise.all(
      names.map((name, i) =>
        check(async () => {
          for (const tag of ['release', 'release-skopeo', 'release-skopeo-8']) {
            const found = await setup.headManifest(`${registry.host}/${name}:${tag}`);
            if (found?.digest !== digests[i] || digestsOut[i] !== digests[i]) {
              throw new Error(`${name}:${tag} names ${found?.digest}, expected ${digests[i]}`);
            }
          }
        }),
      ),
    );

    return {
      tags: TAGS,
      seconds,
      skopeoSeconds,
      ratio: seconds / skopeoSeconds,
      requestsPerTag,
      skopeoRequestsPerTag,
      skopeoParallelSeconds,
      ratioParallel: seconds / skopeoParallelSeconds,
    };
  } finally {
    await proxy.stop();
    await registry.stop();
  }
}
