// The release flow for real: Buildah builds pushed to the distribution registry on
// 127.0.0.1 under a staging tag, smoke tests inside the image (buildah run) and on the host
// (IMAGE set), final tags by retag only for what passed, atomic publishing, and `latest`
// that stays on the newer commit when two runs finish out of order.
import { UserError } from '../../src/core/errors.js';
import type { FileChanges } from '../support/git-repo.js';
import { cleanupRepos, makeRepo, makeRepoWithBusybox } from '../support/git-repo.js';
import type { TestRegistry } from '../support/registry.js';
import { startRegistry } from '../support/registry.js';
import { githubPushBuild } from '../support/github-build.js';
import { inspectRegistry } from '../support/registry-inspect.js';

const BUILD_TIMEOUT = 240_000;
const ZERO = '0'.repeat(40);

let registry: TestRegistry;
beforeAll(async () => {
  registry = await startRegistry();
});
afterAll(async () => {
  await registry.stop();
  await cleanupRepos();
});

const inspect = inspectRegistry(() => registry.host);
const digestAt = async (repository: string, reference: string): Promise<string | undefined> =>
  (await inspect.manifestOf(repository, reference))?.digest;

/** The registry's request lines for one repository, in order. */
function requestsFor(repository: string): string[] {
  return registry
    .log()
    .split('\n')
    .filter((line) => line.includes(`/v2/${repository}/`));
}

const files = (namespace: string, publish: string, extra: FileChanges = {}): FileChanges => ({
  'image-builder.yml': [
    `registry: ${registry.host}/${namespace}`,
    `build-args:`,
    `  REGISTRY: '{registry}'`,
    `publish:`,
    ...publish.split('\n').map((line) => `  ${line}`),
    `images:`,
    `  base:`,
    `    test: { run: 'test "$(cat /release)" = base' }`,
    `  app:`,
    `    test: { run: 'echo "checking app"; grep -qx ok /app.txt', timeout: 60 }`,
    `  web:`,
    `    test: { command: 'echo "staged as $IMAGE"' }`,
    '',
  ].join('\n'),
  'base/Dockerfile':
    'FROM scratch\nCOPY rootfs/ /\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\nRUN echo base > /release\n',
  'app/Dockerfile': 'ARG REGISTRY\nFROM ${REGISTRY}/base:latest\nCOPY app.txt /app.txt\n',
  'app/app.txt': 'ok\n',
  'plugin/Dockerfile': 'ARG REGISTRY\nFROM ${REGISTRY}/app:latest\nCOPY plugin.txt /plugin.txt\n',
  'plugin/plugin.txt': 'plugin 1\n',
  'web/Dockerfile': 'FROM scratch\nCOPY site/ /srv/\n',
  'web/site/index.html': '<h1>hi</h1>\n',
  ...extra,
});

const repoWith = (changes: FileChanges) => makeRepoWithBusybox(changes);

describe('staged publishing with smoke tests (per-image)', () => {
  test(
    'passing tests: final tags by retag; a failing test: latest stays, staging moves, descendants skipped',
    async () => {
      const { repo, first } = await repoWith(files('staged', 'staging-tag: test'));
      const built = await githubPushBuild(repo, ZERO, first, { maxParallel: 3 });
      expect(built.error).toBeUndefined();
      for (const name of ['base', 'app', 'plugin', 'web']) {
        const digest = built.images[name]?.digest;
        expect(built.images[name]?.status).toBe('built');
        expect(built.images[name]?.tags).toEqual(
          expect.arrayContaining([first, 'test', 'main', 'latest']),
        );
        for (const tag of [first, 'test', 'main', 'latest']) {
          expect(await digestAt(`staged/${name}`, tag)).toBe(digest);
        }
        // Everything after the staging tag went through the registry API: no blob upload.
        const requests = requestsFor(`staged/${name}`);
        const staged = requests.findIndex((line) =>
          /"PUT \/v2\/[^"]*\/manifests\/test /.test(line),
        );
        expect(staged).toBeGreaterThan(-1);
        expect(requests.slice(staged).filter((line) => /\/blobs\/uploads\//.test(line))).toEqual(
          [],
        );
      }
      expect(built.output).toContain('checking app');
      expect(built.output).toContain(
        `staged as ${registry.host}/staged/web@${built.images.web?.digest}`,
      );
      expect(built.output).toMatch(/promoted to main/);

      const second = await repo.commit('break app', { 'app/app.txt': 'broken\n' });
      const broken = await githubPushBuild(repo, first, second, { maxParallel: 3 });
      expect(broken.error).toBeInstanceOf(UserError);
      expect(broken.error?.message).toMatch(/1 of 2 images failed: app/);
      expect(broken.error?.message).toContain('smoke test of app failed (test.run, exit 1)');
      expect(broken.error?.message).toContain('checking app');
      expect(broken.images.app?.status).toBe('failed');
      expect(broken.images.plugin?.status).toBe('skipped');
      const pushed = await digestAt('staged/app', second);
      expect(pushed).toBeDefined();
      expect(pushed).not.toBe(built.images.app?.digest);
      expect(await digestAt('staged/app', 'test')).toBe(pushed);
      expect(await digestAt('staged/app', 'latest')).toBe(built.images.app?.digest);
      expect(await digestAt('staged/app', 'main')).toBe(built.images.app?.digest);
      expect(await digestAt('staged/plugin', second)).toBeUndefined();
    },
    BUILD_TIMEOUT,
  );
});

describe('atomic publishing', () => {
  test(
    'one failing image: no final tag moves for anyone',
    async () => {
      const { repo, first } = await repoWith(
        files('atomic', 'staging-tag: staging\nmode: atomic', { 'app/app.txt': 'broken\n' }),
      );
      const { error, images, output } = await githubPushBuild(repo, ZERO, first, {
        maxParallel: 3,
      });
      expect(error).toBeInstanceOf(UserError);
      expect(images.app?.status).toBe('failed');
      expect(images.web?.status).toBe('built');
      expect(images.base?.status).toBe('built');
      for (const name of ['base', 'web']) {
        expect(await digestAt(`atomic/${name}`, 'staging')).toBe(images[name]?.digest);
        expect(await digestAt(`atomic/${name}`, first)).toBe(images[name]?.digest);
        expect(await digestAt(`atomic/${name}`, 'main')).toBeUndefined();
        expect(await digestAt(`atomic/${name}`, 'latest')).toBeUndefined();
      }
      expect(output).toMatch(/atomic\/web:main/);
    },
    BUILD_TIMEOUT,
  );
});

describe('latest never goes backwards', () => {
  test(
    'the newer commit is built first, then the older one: latest stays on the newer',
    async () => {
      const repo = await makeRepo();
      await repo.write({
        'image-builder.yml': `registry: ${registry.host}/order\n`,
        'web/Dockerfile': 'FROM scratch\nCOPY site/ /srv/\n',
        'web/site/index.html': 'one\n',
      });
      await repo.git('add', '-A');
      const older = await repo.commit('one');
      const newer = await repo.commit('two', { 'web/site/index.html': 'two\n' });

      const first = await githubPushBuild(repo, ZERO, newer, { maxParallel: 3 });
      expect(first.error).toBeUndefined();
      const newerDigest = first.images.web?.digest;
      expect(await digestAt('order/web', 'latest')).toBe(newerDigest);

      await repo.git('checkout', '-q', older);
      const late = await githubPushBuild(repo, ZERO, older, { maxParallel: 3 });
      expect(late.error).toBeUndefined();
      expect(late.images.web?.status).toBe('built');
      expect(await digestAt('order/web', older)).toBe(late.images.web?.digest);
      expect(late.images.web?.digest).not.toBe(newerDigest);
      expect(await digestAt('order/web', 'latest')).toBe(newerDigest);
      expect(late.images.web?.tags).not.toContain('latest');
      expect(late.output).toContain(
        `latest stays on ${newer.slice(0, 7)}: it is newer than ${older.slice(0, 7)}`,
      );
    },
    BUILD_TIMEOUT,
  );
});
