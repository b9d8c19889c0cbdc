// Two runs for two commits of main, started together against one registry (Buildah and the
// distribution registry on 127.0.0.1, each run in its own clone as on two CI runners):
// `latest` ends on the newer commit's images and each sha tag on its own commit's. Runs
// started side by side rarely hit the race on their own, so a third case forces it through
// a proxy: the older run checks `latest`, the newer one writes it, then the older one writes.
import { createHash } from 'node:crypto';
import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REVISION_LABEL } from '../../src/build/latest-guard.js';
import { cleanupRepos, cloneRemote, makeRemote, makeRepo } from '../support/git-repo.js';
import type { TempRepo } from '../support/git-repo.js';
import { githubPushBuild } from '../support/github-build.js';
import { inspectRegistry } from '../support/registry-inspect.js';
import { startProxy, startRegistry } from '../support/registry.js';
import type { ProxyRequest, TestProxy, TestRegistry } from '../support/registry.js';

const IMAGES = ['base', 'app'];
const TIMEOUT = 60_000;

let registry: TestRegistry;
const inspect = inspectRegistry(() => registry.host);
beforeAll(async () => {
  registry = await startRegistry();
});
afterAll(async () => {
  await registry.stop();
  await cleanupRepos();
});

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Commits {
  root: string;
  a: string;
  b: string;
  /** Clones checked out at A and at B. */
  atA: TempRepo;
  atB: TempRepo;
}

/** Every image's file says which commit it is: each commit gives every image a new digest. */
const version = (label: string): Record<string, string> =>
  Object.fromEntries(IMAGES.map((name) => [`${name}/version.txt`, `${label}\n`]));

/** root → A → B on main, images pushed to `registryHost/namespace`, and a clone for each run. */
async function commits(registryHost: string, namespace: string): Promise<Commits> {
  const repo = await makeRepo();
  await repo.write({
    'image-builder.yml': [
      `registry: ${registryHost}/${namespace}`,
      'build-args:',
      `  REGISTRY: '{registry}'`,
      '',
    ].join('\n'),
    'base/Dockerfile': 'FROM scratch\nCOPY busybox /bin/busybox\nCOPY version.txt /version\n',
    'app/Dockerfile': 'ARG REGISTRY\nFROM ${REGISTRY}/base:latest\nCOPY version.txt /app\n',
    ...version('root'),
  });
  // Debian's busybox-static: a real binary, so the layers are of a realistic size.
  await copyFile('/bin/busybox', join(repo.dir, 'base', 'busybox'));
  await repo.git('add', '-A');
  const root = await repo.commit('images');
  const a = await repo.commit('A', version('A'));
  const b = await repo.commit('B', version('B'));
  const remote = await makeRemote(repo);
  const [atA, atB] = await Promise.all([cloneRemote(remote), cloneRemote(remote)]);
  await Promise.all([atA.checkout(a), atB.checkout(b)]);
  return { root, a, b, atA, atB };
}

type Run = Awaited<ReturnType<typeof githubPushBuild>>;

/** Both runs succeeded; latest and main are B's image everywhere; each sha tag is its own commit's. */
async function expectLatestOnB(namespace: string, c: Commits, runA: Run, runB: Run) {
  expect(runA.error?.message).toBeUndefined();
  expect(runB.error?.message).toBeUndefined();
  for (const name of IMAGES) {
    const repository = `${namespace}/${name}`;
    const builtA = runA.images[name]?.digest;
    const builtB = runB.images[name]?.digest;
    expect(runA.images[name]?.status).toBe('built');
    expect(runB.images[name]?.status).toBe('built');
    expect(builtA).toMatch(/^sha256:/);
    expect(builtB).not.toBe(builtA);
    const at = async (reference: string) => ({
      digest: (await inspect.manifestOf(repository, reference))?.digest,
      revision: (await inspect.labelsOf(repository, reference))[REVISION_LABEL],
    });
    expect({ image: name, tag: 'A', ...(await at(c.a)) }).toEqual({
      image: name,
      tag: 'A',
      digest: builtA,
      revision: c.a,
    });
    expect({ image: name, tag: 'B', ...(await at(c.b)) }).toEqual({
      image: name,
      tag: 'B',
      digest: builtB,
      revision: c.b,
    });
    // The branch's own tag moves with every push to it, like latest.
    for (const tag of ['latest', 'main']) {
      expect({ image: name, tag, ...(await at(tag)) }).toEqual({
        image: name,
        tag,
        digest: builtB,
        revision: c.b,
      });
    }
  }
}

/** Starts `first`'s run, then the other one `delayMs` later, and waits for both. */
async function runPair(c: Commits, first: 'A' | 'B', delayMs: number): Promise<[Run, Run]> {
  const start = {
    A: () => githubPushBuild(c.atA, c.root, c.a, { maxParallel: 3 }),
    B: () => githubPushBuild(c.atB, c.a, c.b, { maxParallel: 3 }),
  };
  const second = first === 'A' ? 'B' : 'A';
  const [one, two] = await Promise.all([start[first](), pause(delayMs).then(start[second])]);
  return first === 'A' ? [one, two] : [two, one];
}

describe('two runs of main started together', () => {
  test.each([
    ['A (older) first', 'A' as const, 0],
    ['B (newer) first', 'B' as const, 50],
  ])(
    '%s: latest ends on B, each sha tag on its own build',
    async (label, first, delayMs) => {
      const namespace = `together-${first.toLowerCase()}`;
      const c = await commits(registry.host, namespace);
      const [runA, runB] = await runPair(c, first, delayMs);
      await expectLatestOnB(namespace, c, runA, runB);
    },
    TIMEOUT,
  );

  test(
    'the older run writes latest between the newer run’s check and write: the newer run puts it back',
    async () => {
      const namespace = 'forced';
      // Every run goes through the proxy, which holds B's first write of each latest until
      // A has checked and sent its own, and A's until B's has landed.
      const order: string[] = [];
      const gates = new Map<string, { aSent: Deferred; bDone: Deferred; bSeen: boolean }>();
      const gate = (repository: string) => {
        let found = gates.get(repository);
        if (!found) {
          found = { aSent: deferred(), bDone: deferred(), bSeen: false };
          gates.set(repository, found);
        }
        return found;
      };
      let c: Commits | undefined;
      const proxy: TestProxy = await startProxy(registry.host, async (request, self) => {
        const match = /^\/v2\/(.+)\/manifests\/latest$/.exec(request.url);
        if (request.method !== 'PUT' || !match || !c) return 'forward';
        const repository = match[1] as string;
        const run = await whose(request, repository, c);
        const g = gate(repository);
        if (run === 'A') {
          g.aSent.resolve();
          await within(g.bDone.promise, 20_000);
          order.push(`${repository.split('/').pop()}: A`);
          return self.forward(request);
        }
        if (run === 'B' && !g.bSeen) {
          g.bSeen = true;
          await within(g.aSent.promise, 20_000);
          const answer = await self.forward(request);
          order.push(`${repository.split('/').pop()}: B`);
          g.bDone.resolve();
          return answer;
        }
        if (run === 'B') order.push(`${repository.split('/').pop()}: B again`);
        return self.forward(request);
      });
      try {
        c = await commits(proxy.host, namespace);
        const [runA, runB] = await runPair(c, 'A', 0);
        // The race happened: for every image, A's write landed after B's.
        for (const name of IMAGES) {
          expect(order.indexOf(`${name}: A`)).toBeGreaterThan(order.indexOf(`${name}: B`));
        }
        await expectLatestOnB(namespace, c, runA, runB);
        expect(runB.output).toContain(
          `was moved back to ${c.a.slice(0, 7)} by an older run; moving it to ${c.b.slice(0, 7)} again`,
        );
      } finally {
        await proxy.stop();
      }
    },
    TIMEOUT,
  );
});

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
}

function deferred(): Deferred {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((done) => (resolve = done));
  return { promise, resolve };
}

/** Waits for `promise`, or gives up after `ms` (the assertions then say what went wrong). */
async function within(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  await Promise.race([promise, timeout]);
  clearTimeout(timer);
}

/** Which run a manifest PUT (to `repository`, a path) comes from: the one whose sha tag has these bytes. */
async function whose(request: ProxyRequest, repository: string, c: Commits) {
  const digest = `sha256:${createHash('sha256').update(request.body).digest('hex')}`;
  for (const [run, sha] of [
    ['A', c.a],
    ['B', c.b],
  ] as const) {
    if ((await inspect.manifestOf(repository, sha))?.digest === digest) return run;
  }
  return undefined;
}

describe('an older run whose clone has not seen the newer commit', () => {
  test(
    'finishing last, it fetches the newer commit, sees it is older and leaves latest alone',
    async () => {
      const namespace = 'late-clone';
      const repo = await makeRepo();
      await repo.write({
        'image-builder.yml': `registry: ${registry.host}/${namespace}\n`,
        'base/Dockerfile': 'FROM scratch\nCOPY version.txt /version\n',
        'app/Dockerfile': 'FROM scratch\nCOPY version.txt /app\n',
        ...version('root'),
      });
      const root = await repo.commit('images');
      const a = await repo.commit('A', version('A'));
      const remote = await makeRemote(repo);
      // A's runner cloned before B was pushed, as a CI checkout of A would have.
      const atA = await cloneRemote(remote);
      await atA.checkout(a);
      const b = await repo.commit('B', version('B'));
      await repo.push('main');
      const atB = await cloneRemote(remote);
      await atB.checkout(b);
      await expect(atA.git('cat-file', '-e', `${b}^{commit}`)).rejects.toThrow();

      const runB = await githubPushBuild(atB, a, b, { maxParallel: 2 });
      const runA = await githubPushBuild(atA, root, a, { maxParallel: 2 });
      await expectLatestOnB(namespace, { root, a, b, atA, atB }, runA, runB);
      expect(runA.output).toMatch(/latest stays on [0-9a-f]{7}: it is newer than [0-9a-f]{7}/);
    },
    TIMEOUT,
  );
});
