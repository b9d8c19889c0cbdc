// A registry password given to a build appears in no log line, no output, no argv of any
// process, and no credentials file is left behind — after success and after failure.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exec } from '../../src/adapters/exec.js';
import type { Exec, ExecRequest } from '../../src/builders/types.js';
import { cleanupRepos, makeRepoWithBusybox } from '../support/git-repo.js';
import { runInProcess } from '../support/github-build.js';
import type { TestRegistry } from '../support/registry.js';
import { startRegistry } from '../support/registry.js';

const PASSWORD = 's3cret-Pa55-word-that-must-not-leak';
let registry: TestRegistry;
let scratch: string;
const originalTmp = process.env.TMPDIR;

beforeAll(async () => {
  registry = await startRegistry({ basicAuth: { username: 'builder', password: PASSWORD } });
});
beforeEach(async () => {
  // Everything the run writes to the temp folder lands here, so "nothing left" is checkable.
  scratch = await mkdtemp(join(originalTmp ?? tmpdir(), 'image-builder-secrets-'));
  process.env.TMPDIR = scratch;
});
afterEach(async () => {
  process.env.TMPDIR = originalTmp;
  if (originalTmp === undefined) delete process.env.TMPDIR;
  await rm(scratch, { recursive: true, force: true });
});
afterAll(async () => {
  await registry.stop();
  await cleanupRepos();
});

async function buildWith(dockerfile: string) {
  const { repo, first: sha } = await makeRepoWithBusybox({
    'image-builder.yml': `registry: ${registry.host}/secrets\n`,
    'base/Dockerfile': dockerfile,
  });

  const requests: ExecRequest[] = [];
  const recording: Exec = (request, onLine) => {
    requests.push(request);
    return exec(request, onLine);
  };
  const ran = await runInProcess(
    {
      command: 'build',
      repoDir: repo.dir,
      all: true,
      registryUsername: 'builder',
      registryPassword: PASSWORD,
    },
    { PATH: process.env.PATH, HOME: scratch, TMPDIR: scratch },
    { exec: recording },
  );
  return {
    sha,
    error: ran.error,
    requests,
    log: ran.output,
    outputs: [...ran.outputs.values()].join('\n'),
  };
}

function expectNoLeak(result: Awaited<ReturnType<typeof buildWith>>): void {
  expect(result.requests.length).toBeGreaterThan(0);
  for (const request of result.requests) {
    expect(request.args.join(' ')).not.toContain(PASSWORD);
    expect(JSON.stringify(request.env ?? {})).not.toContain(PASSWORD);
  }
  expect(result.log).not.toContain(PASSWORD);
  expect(result.outputs).not.toContain(PASSWORD);
  expect(result.error?.message ?? '').not.toContain(PASSWORD);
}

describe('credentials stay secret', () => {
  test('a successful build pushes with the password and leaves no file behind', async () => {
    const result = await buildWith('FROM scratch\nCOPY rootfs/ /\nRUN ["/bin/busybox", "true"]\n');
    expect(result.error).toBeUndefined();
    // The password really was used: the push went through an authenticated registry.
    expect(result.log).toMatch(/pushed .*\/secrets\/base:/);
    // The private file lived in the run's temp folder, which is empty again afterwards.
    const authFiles = result.requests
      .map((request) => request.args[request.args.indexOf('--authfile') + 1])
      .filter((arg, index) => result.requests[index]?.args.includes('--authfile'));
    expect(authFiles.length).toBeGreaterThan(0);
    for (const file of authFiles) expect(file?.startsWith(scratch)).toBe(true);
    expectNoLeak(result);
    expect(await readdir(scratch)).toEqual([]);
  });

  test('a failing build leaks nothing either and leaves no file behind', async () => {
    const result = await buildWith('FROM scratch\nCOPY rootfs/ /\nRUN ["/bin/busybox", "false"]\n');
    expect(result.error?.message).toMatch(/1 of 1 images failed: base/);
    expectNoLeak(result);
    expect(await readdir(scratch)).toEqual([]);
  });
});
