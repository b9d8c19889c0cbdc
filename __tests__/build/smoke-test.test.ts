import { exec } from '../../src/adapters/exec.js';
import type { Exec, ExecRequest } from '../../src/builders/types.js';
import {
  SmokeTestError,
  buildahCleanupArgs,
  buildahFromArgs,
  buildahRunArgs,
  checkSmokeTestRunner,
  hostTestRequest,
  runSmokeTest,
  testContainerName,
  withTimeout,
} from '../../src/build/smoke-test.js';
import { UserError } from '../../src/core/errors.js';

const SETTINGS = { storageDriver: 'vfs', isolation: 'chroot' } as const;
const REF = 'localhost:5000/acme/api@sha256:' + 'a'.repeat(64);

describe('smoke test argv', () => {
  test('buildah from pulls the staged digest into a named container', () => {
    expect(
      buildahFromArgs(SETTINGS, REF, 'c1', { authFile: '/tmp/auth.json', insecure: true }),
    ).toEqual([
      '--storage-driver',
      'vfs',
      'from',
      '--name',
      'c1',
      '--tls-verify=false',
      '--authfile',
      '/tmp/auth.json',
      REF,
    ]);
    expect(buildahFromArgs(SETTINGS, REF, 'c1', { authFile: 'a', insecure: false })).toContain(
      '--tls-verify=true',
    );
  });

  test('buildah run runs the script with sh -c under the isolation', () => {
    expect(
      buildahRunArgs({ storageDriver: 'overlay', isolation: 'oci' }, 'c1', 'api --version'),
    ).toEqual([
      '--storage-driver',
      'overlay',
      'run',
      '--isolation',
      'oci',
      'c1',
      '--',
      'sh',
      '-c',
      'api --version',
    ]);
  });

  test('cleanup removes the container, then the pulled image', () => {
    expect(buildahCleanupArgs(SETTINGS, 'c1', REF)).toEqual([
      ['--storage-driver', 'vfs', 'rm', 'c1'],
      ['--storage-driver', 'vfs', 'rmi', REF],
    ]);
  });

  test('container names are valid and unique per call', () => {
    expect(testContainerName('My App.v2', 'ab12')).toBe('image-builder-test-my-app-v2-ab12');
  });

  test('host command: sh -c with IMAGE; timeout wraps any request', () => {
    const request = hostTestRequest('./smoke.sh "$IMAGE"', REF, '/repo');
    expect(request).toEqual({
      command: 'sh',
      args: ['-c', './smoke.sh "$IMAGE"'],
      env: { IMAGE: REF },
      cwd: '/repo',
    });
    expect(withTimeout(request, 30)).toEqual({
      ...request,
      command: 'timeout',
      args: ['--kill-after=5', '30', 'sh', '-c', './smoke.sh "$IMAGE"'],
    });
  });

  test('test.run with another builder: a clear error that suggests test.command', () => {
    expect(() =>
      checkSmokeTestRunner('api', { run: 'api --version', timeoutSeconds: 5 }, 'buildx'),
    ).toThrow(UserError);
    expect(() => checkSmokeTestRunner('api', { run: 'x', timeoutSeconds: 5 }, 'kaniko')).toThrow(
      /test\.run needs the buildah runner.*use test\.command/s,
    );
    expect(() =>
      checkSmokeTestRunner('api', { command: 'x', timeoutSeconds: 5 }, 'kaniko'),
    ).not.toThrow();
  });
});

describe('runSmokeTest', () => {
  const base = {
    image: 'api',
    reference: REF,
    builder: 'buildah',
    buildah: SETTINGS,
    authFile: '/tmp/auth.json',
    insecure: true,
    cwd: process.cwd(),
  };

  test('test.run: from, run under timeout, then cleanup, also when the test fails', async () => {
    const calls: ExecRequest[] = [];
    const fake: Exec = async (request) => {
      calls.push(request);
      const failing = request.command === 'timeout';
      return { exitCode: failing ? 3 : 0, tail: failing ? ['boom'] : [] };
    };
    const error = await runSmokeTest(
      { ...base, test: { run: 'api --version', timeoutSeconds: 20 } },
      fake,
      () => undefined,
    ).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SmokeTestError);
    expect((error as Error).message).toBe('smoke test of api failed (test.run, exit 3):\nboom');
    expect(calls.map((call) => [call.command, call.args[2]])).toEqual([
      ['buildah', 'from'],
      ['timeout', 'buildah'],
      ['buildah', 'rm'],
      ['buildah', 'rmi'],
    ]);
    expect(calls[1]?.args.slice(1, 6)).toEqual(['20', 'buildah', '--storage-driver', 'vfs', 'run']);
  });

  test('a host command sees IMAGE, and its output reaches the log', async () => {
    const lines: string[] = [];
    await runSmokeTest(
      { ...base, test: { command: 'echo "image is $IMAGE"', timeoutSeconds: 10 } },
      exec,
      (line) => lines.push(line),
    );
    expect(lines).toContain(`image is ${REF}`);
    expect(lines).toContain('smoke test passed');
  });

  test('a host command that hangs is stopped with its children and fails as timed out', async () => {
    const started = Date.now();
    const error = await runSmokeTest(
      {
        ...base,
        test: { command: 'echo waiting; sleep 30 & sleep 30; echo never', timeoutSeconds: 1 },
      },
      exec,
      () => undefined,
    ).catch((caught: unknown) => caught);
    expect((error as Error).message).toMatch(/^smoke test of api timed out after 1 s:\nwaiting/);
    expect(Date.now() - started).toBeLessThan(8_000);
  });
});
