// Variants for real: Buildah builds of a debug variant into the `-debug-` channel, each
// child on the same variant of its parent, pushed to the distribution registry on 127.0.0.1.
import { cleanupRepos, makeRepoWithBusybox } from '../support/git-repo.js';
import type { TestRegistry } from '../support/registry.js';
import { startRegistry } from '../support/registry.js';
import { githubPushBuild } from '../support/github-build.js';
import { inspectRegistry } from '../support/registry-inspect.js';

const BUILD_TIMEOUT = 240_000;

let registry: TestRegistry;
beforeAll(async () => {
  registry = await startRegistry();
});
afterAll(async () => {
  await registry.stop();
  await cleanupRepos();
});

const { manifestOf, labelsOf, layersOf } = inspectRegistry(() => registry.host);

/** base and app FROM base, each with a `prod` stage and a `debug` one with busybox tooling. */
async function repoFor(namespace: string, channel: string) {
  const { repo, first } = await makeRepoWithBusybox({
    'image-builder.yml': [
      `registry: ${registry.host}/${namespace}`,
      `channel: ${channel}`,
      'build-args:',
      "  BASE: '{registry}/{prefix}base'",
      'variants:',
      '  debug:',
      '    target: debug',
      'images:',
      '  base: { target: prod }',
      '  app: { target: prod }',
      '',
    ].join('\n'),
    'base/Dockerfile':
      'FROM scratch AS prod\nCOPY base.txt /base.txt\n\nFROM prod AS debug\nCOPY rootfs/ /\n',
    'base/base.txt': 'base\n',
    'app/Dockerfile':
      'ARG BASE\nFROM ${BASE}:latest AS prod\nCOPY app.txt /app.txt\n\nFROM prod AS debug\nCOPY debug.txt /debug.txt\n',
    'app/app.txt': 'app\n',
    'app/debug.txt': 'debug\n',
  });
  return { repo, sha: first };
}

describe('variants built with Buildah into a real registry', () => {
  test(
    'channel stable: debug variants in the stable-debug- channel, app+debug on base+debug',
    async () => {
      const { repo, sha } = await repoFor('rel', 'stable');
      const { error, output, images } = await githubPushBuild(repo, '0'.repeat(40), sha, {
        actor: 'someone',
      });
      expect({ error, output }).toEqual({ error: undefined, output: expect.any(String) });
      expect(Object.keys(images)).toEqual(['base', 'base+debug', 'app', 'app+debug']);
      for (const name of ['base', 'app']) {
        const plain = await manifestOf(`rel/stable-${name}`, 'latest');
        const debug = await manifestOf(`rel/stable-debug-${name}`, 'latest');
        expect(plain?.digest).toBe(images[name]?.digest);
        expect(debug?.digest).toBe(images[`${name}+debug`]?.digest);
        expect((await manifestOf(`rel/stable-debug-${name}`, sha))?.digest).toBe(debug?.digest);
        expect(debug?.digest).not.toBe(plain?.digest);
      }
      // The debug app is built on the debug base (busybox in it), not on the plain one.
      const debugBase = await layersOf('rel/stable-debug-base', sha);
      const plainBase = await layersOf('rel/stable-base', sha);
      const debugApp = await layersOf('rel/stable-debug-app', sha);
      expect(debugBase.length).toBeGreaterThan(plainBase.length);
      expect(debugApp.slice(0, debugBase.length)).toEqual(debugBase);
      const labels = await labelsOf('rel/stable-debug-app', sha);
      expect(labels['org.opencontainers.image.base.digest']).toBe(images['base+debug']?.digest);
      // The plain app stays on the plain base.
      const plainLabels = await labelsOf('rel/stable-app', sha);
      expect(plainLabels['org.opencontainers.image.base.digest']).toBe(images.base?.digest);
    },
    BUILD_TIMEOUT,
  );

  test(
    'channel user: an awkward user name gives kevin-rosendahl-bot- and kevin-rosendahl-bot-debug-',
    async () => {
      const { repo, sha } = await repoFor('dev', 'user');
      const { error, output, images } = await githubPushBuild(repo, '0'.repeat(40), sha, {
        actor: 'Kevin.Rosendahl[bot]',
      });
      expect({ error, output }).toEqual({ error: undefined, output: expect.any(String) });
      expect(images['app+debug']?.repository).toBe(
        `${registry.host}/dev/kevin-rosendahl-bot-debug-app`,
      );
      const debugApp = await manifestOf('dev/kevin-rosendahl-bot-debug-app', sha);
      expect(debugApp?.digest).toBe(images['app+debug']?.digest);
      expect((await manifestOf('dev/kevin-rosendahl-bot-app', sha))?.digest).toBe(
        images.app?.digest,
      );
      const labels = await labelsOf('dev/kevin-rosendahl-bot-debug-app', sha);
      expect(labels['org.opencontainers.image.base.digest']).toBe(images['base+debug']?.digest);
    },
    BUILD_TIMEOUT,
  );
});
