// A bad day at the registry, for real: Buildah builds of 30 images (10 bases, 20 children
// built on them) pushed, tagged and promoted through a proxy that fails 20% of requests
// (500, 503, 429 with Retry-After, dropped connections) and slows some others. Every tag
// must end on the right digest, and the log must say how many retries it took. Then the
// registry fails every request: the run must end soon with a clear error and no tag moved.
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import type { FileChanges, TempRepo } from '../support/git-repo.js';
import { cleanupRepos, makeRepo } from '../support/git-repo.js';
import { githubPushBuild, runInProcess } from '../support/github-build.js';
import { inspectRegistry } from '../support/registry-inspect.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';

const TIMEOUT = 300_000;
const ZERO = '0'.repeat(40);
const SEED = Number(process.env.FAULT_SEED ?? 20261122);
const BASES = 10;
const NAMES = Array.from({ length: BASES }, (_, i) => [`b${i}`, `c${i}x`, `c${i}y`]).flat();

let registry: TestRegistry;
let faults: FaultProxy;
let repo: TempRepo;
let first: string;
const inspect = inspectRegistry(() => registry.host);

function files(version: string): FileChanges {
  const changes: FileChanges = {
    'image-builder.yml': [
      `registry: ${faults.host}/faults`,
      'build-args:',
      "  REGISTRY: '{registry}'",
      '',
    ].join('\n'),
  };
  for (let i = 0; i < BASES; i++) {
    changes[`b${i}/Dockerfile`] = 'FROM scratch\nCOPY base.txt /base.txt\n';
    changes[`b${i}/base.txt`] = `base ${i} ${version}\n`;
    for (const child of ['x', 'y']) {
      changes[`c${i}${child}/Dockerfile`] =
        `ARG REGISTRY\nFROM \${REGISTRY}/b${i}:latest\nCOPY child.txt /child.txt\n`;
      changes[`c${i}${child}/child.txt`] = `child ${i}${child}\n`;
    }
  }
  return changes;
}

/** Every repository's tags, read from the registry itself (not through the proxy). */
async function snapshot(): Promise<Record<string, Record<string, string | undefined>>> {
  const catalog = (await (await fetch(`http://${registry.host}/v2/_catalog`)).json()) as {
    repositories: string[];
  };
  const result: Record<string, Record<string, string | undefined>> = {};
  for (const repository of catalog.repositories.sort()) {
    const listed = (await (
      await fetch(`http://${registry.host}/v2/${repository}/tags/list`)
    ).json()) as { tags: string[] | null };
    result[repository] = {};
    for (const tag of (listed.tags ?? []).sort()) {
      result[repository][tag] = (await inspect.manifestOf(repository, tag))?.digest;
    }
  }
  return result;
}

function retriesIn(output: string): number {
  const match = /registry: (\d+) requests? retried \(/.exec(output);
  return match ? Number(match[1]) : 0;
}

const promote = (from: string, to: string[]) =>
  runInProcess({ command: 'promote', repoDir: repo.dir, promoteFrom: from, promoteTo: to });

beforeAll(async () => {
  registry = await startRegistry();
  faults = await startFaultProxy(registry.host, {
    seed: SEED,
    failureRate: 0.2,
    slowRate: 0.03,
    slowMs: 1000,
    retryAfterSeconds: 1,
  });
  repo = await makeRepo();
  first = await repo.commit('30 images', files('one'));
});

afterAll(async () => {
  await faults?.stop();
  await registry?.stop();
  await cleanupRepos();
});

describe(`a registry failing 20% of requests (FAULT_SEED=${SEED})`, () => {
  test(
    'builds and pushes 30 images: every tag on the right digest, retries counted in the log',
    async () => {
      const started = Date.now();
      const built = await githubPushBuild(repo, ZERO, first, { maxParallel: 4 });
      const seconds = (Date.now() - started) / 1000;
      expect(built.error).toBeUndefined();
      expect(faults.failures()).toBeGreaterThan(50);

      const stored = await snapshot();
      expect(Object.keys(stored).sort()).toEqual(NAMES.map((name) => `faults/${name}`).sort());
      for (const name of NAMES) {
        const outcome = built.images[name];
        expect(outcome?.status).toBe('built');
        const digest = outcome?.digest;
        expect(digest).toMatch(/^sha256:/);
        const tags = stored[`faults/${name}`] ?? {};
        for (const tag of [first, 'main', 'latest']) expect(tags[tag]).toBe(digest);
        const content = Object.keys(tags).filter((tag) => tag.startsWith('src-'));
        expect(content).toHaveLength(1);
        expect(tags[content[0] as string]).toBe(digest);
        const labels = await inspect.labelsOf(`faults/${name}`, first);
        expect(labels['org.opencontainers.image.revision']).toBe(first);
        if (name.startsWith('c')) {
          // Built on exactly the base this run pushed.
          const base = built.images[name.slice(0, -1).replace('c', 'b')]?.digest;
          expect(labels['org.opencontainers.image.base.digest']).toBe(base);
        }
      }

      const retried = retriesIn(built.output);
      expect(retried).toBeGreaterThan(0);
      const retryLines = built.output.match(/^registry: \S+ \S+ got .+; try \d+ of \d+ in /gm);
      expect(retryLines).toHaveLength(retried);
      // Buildah never met the proxy: it wrote each image locally, our client pushed it.
      expect(built.output).not.toMatch(/docker:\/\//);
      if (process.env.FAULT_REPORT) {
        console.log(
          JSON.stringify({
            seconds,
            requests: faults.proxy.requests.length,
            served: faults.served,
            summary: /registry: \d+ requests? retried \([^)]*\)/.exec(built.output)?.[0],
          }),
        );
      }
    },
    TIMEOUT,
  );

  test(
    'promotes the 30 images to two tags: each on the digest of its sha tag, no layer uploaded',
    async () => {
      const before = faults.failures();
      const uploadsBefore = faults.proxy.requests.filter((r) => r.url.includes('/blobs/uploads/'));
      const promoted = await promote(first, ['stable', 'v1']);
      expect(promoted.error).toBeUndefined();
      expect(faults.failures()).toBeGreaterThan(before);
      expect(retriesIn(promoted.output)).toBeGreaterThan(0);
      const stored = await snapshot();
      for (const name of NAMES) {
        const tags = stored[`faults/${name}`] ?? {};
        expect(tags.stable).toBe(tags[first]);
        expect(tags.v1).toBe(tags[first]);
      }
      const uploads = faults.proxy.requests.filter((r) => r.url.includes('/blobs/uploads/'));
      expect(uploads).toHaveLength(uploadsBefore.length);
    },
    TIMEOUT,
  );
});

describe('a registry failing every request', () => {
  test(
    'a build ends in bounded time with a clear error and moves no tag; so does a promotion',
    async () => {
      const before = await snapshot();
      faults.setFailureRate(1);
      const next = await repo.commit('change three images', {
        'b0/base.txt': 'base 0 two\n',
        'c1x/child.txt': 'child 1x two\n',
      });

      const started = Date.now();
      const built = await githubPushBuild(repo, first, next, { maxParallel: 4 });
      const seconds = (Date.now() - started) / 1000;
      expect(seconds).toBeLessThan(60);
      expect(built.error).toBeDefined();
      expect(built.error?.message).toMatch(/failed/);
      // The reason is the registry's last answer, or (once three requests in a row failed
      // every try) that the registry was given up on.
      expect(built.error?.message).toMatch(
        /(500 Internal Server Error|503 Service Unavailable|429 Too Many Requests|other side closed|not retried)/,
      );
      for (const name of ['b0', 'c0x', 'c0y', 'c1x']) {
        expect(['failed', 'skipped']).toContain(built.images[name]?.status);
      }

      const promoteStarted = Date.now();
      const promoted = await promote(first, ['prod']);
      const promoteSeconds = (Date.now() - promoteStarted) / 1000;
      if (process.env.FAULT_REPORT) console.log(JSON.stringify({ seconds, promoteSeconds }));
      expect(promoteSeconds).toBeLessThan(60);
      expect(promoted.error).toBeDefined();
      expect(promoted.error?.message).toMatch(new RegExp(faults.host.replace(/\./g, '\\.')));

      faults.setFailureRate(0);
      expect(await snapshot()).toEqual(before);
    },
    TIMEOUT,
  );
});
