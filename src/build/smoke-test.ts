// Smoke tests of a pushed image, before its final tags are set: `test.run` inside a
// container of the image (through Buildah), `test.command` on the host with IMAGE set to
// the staged reference by digest. Every argv is a pure function; only runSmokeTest runs them,
// through the Exec seam. The timeout is coreutils' `timeout`: it runs the test in a process
// group of its own and signals the whole group, so nothing the test started is left behind.
import { randomBytes } from 'node:crypto';
import type { BuildahSettings } from '../builders/buildah.js';
import type { Exec, ExecRequest } from '../builders/types.js';
import { UserError } from '../core/errors.js';
import type { TestConfig } from '../core/types.js';

/** How many of the last output lines go into the failure message. */
const MESSAGE_LINES = 10;
/** After the timeout's TERM, how long the test gets before KILL. */
const KILL_AFTER_SECONDS = 5;
/** `timeout`'s exit codes: 124 after TERM, 128+9 when it had to KILL. */
const TIMED_OUT_CODES = new Set([124, 137]);

export class SmokeTestError extends UserError {
  readonly tail: readonly string[];
  constructor(message: string, tail: readonly string[]) {
    const lines = tail.filter((line) => line.trim() !== '').slice(-MESSAGE_LINES);
    super(lines.length > 0 ? `${message}:\n${lines.join('\n')}` : message);
    this.tail = [...tail];
  }
}

export interface SmokeTestRequest {
  image: string;
  test: TestConfig;
  /** The staged image by digest: `host/repo@sha256:…`. */
  reference: string;
  /** The builder that built the image: `test.run` needs Buildah here. */
  builder: string;
  /** Buildah's storage driver and isolation, for `test.run`. */
  buildah?: BuildahSettings;
  authFile: string;
  insecure: boolean;
  /** Where a host `command` runs: the repository root. */
  cwd: string;
}

/** Refuses, before anything is built, a `test.run` that this run cannot execute. */
export function checkSmokeTestRunner(image: string, test: TestConfig, builder: string): void {
  if (test.run !== undefined && builder !== 'buildah') {
    throw new UserError(
      `image "${image}": test.run needs the buildah runner here, and ${image} is built with ${builder}; ` +
        `use test.command with $IMAGE instead (e.g. "docker run --rm $IMAGE …")`,
    );
  }
}

/** The request wrapped in `timeout`: TERM to the test's process group after `seconds`, KILL later. */
export function withTimeout(request: ExecRequest, seconds: number): ExecRequest {
  return {
    ...request,
    command: 'timeout',
    args: [`--kill-after=${KILL_AFTER_SECONDS}`, String(seconds), request.command, ...request.args],
  };
}

/** A container name for one test of one image: unique, so tests in parallel never collide. */
export function testContainerName(image: string, unique: string): string {
  const name = image
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
  return `image-builder-test-${name || 'image'}-${unique}`;
}

/** `buildah from`: a working container of the pushed image, pulled by digest. */
export function buildahFromArgs(
  settings: BuildahSettings,
  reference: string,
  container: string,
  options: { authFile: string; insecure: boolean },
): string[] {
  return [
    '--storage-driver',
    settings.storageDriver,
    'from',
    '--name',
    container,
    `--tls-verify=${options.insecure ? 'false' : 'true'}`,
    '--authfile',
    options.authFile,
    reference,
  ];
}

/** `buildah run … -- sh -c '<run>'`: the test inside the container. */
export function buildahRunArgs(
  settings: BuildahSettings,
  container: string,
  script: string,
): string[] {
  return [
    '--storage-driver',
    settings.storageDriver,
    'run',
    '--isolation',
    settings.isolation,
    container,
    '--',
    'sh',
    '-c',
    script,
  ];
}

/** Removes the test's container, then the pulled image (still in use elsewhere: left alone). */
export function buildahCleanupArgs(
  settings: BuildahSettings,
  container: string,
  reference: string,
): string[][] {
  const storage = ['--storage-driver', settings.storageDriver];
  return [
    [...storage, 'rm', container],
    [...storage, 'rmi', reference],
  ];
}

/** `sh -c '<command>'` on the host, with IMAGE set to the staged reference. */
export function hostTestRequest(command: string, reference: string, cwd: string): ExecRequest {
  return { command: 'sh', args: ['-c', command], env: { IMAGE: reference }, cwd };
}

/**
 * Runs the image's smoke test; resolves when it passed, throws SmokeTestError (exit code or
 * timeout, and the output's last lines) when it did not. Output goes to `log` as it comes.
 */
export async function runSmokeTest(
  request: SmokeTestRequest,
  exec: Exec,
  log: (line: string) => void,
): Promise<void> {
  const { test, image } = request;
  const seconds = test.timeoutSeconds;
  const timed = async (inner: ExecRequest, what: string): Promise<void> => {
    const started = Date.now();
    const result = await exec(withTimeout(inner, seconds), log);
    if (result.exitCode === 0) return;
    const elapsed = (Date.now() - started) / 1000;
    if (TIMED_OUT_CODES.has(result.exitCode) && elapsed >= seconds - 0.5) {
      throw new SmokeTestError(`smoke test of ${image} timed out after ${seconds} s`, result.tail);
    }
    throw new SmokeTestError(
      `smoke test of ${image} failed (${what}, exit ${result.exitCode})`,
      result.tail,
    );
  };

  if (test.command !== undefined) {
    log(`smoke test on the host: ${test.command} (IMAGE=${request.reference})`);
    await timed(hostTestRequest(test.command, request.reference, request.cwd), 'test.command');
    log(`smoke test passed`);
    return;
  }
  if (test.run === undefined) return;
  checkSmokeTestRunner(image, test, request.builder);
  const settings = request.buildah;
  if (settings === undefined)
    throw new UserError(`image "${image}": no Buildah settings for test.run`);
  const container = testContainerName(image, randomBytes(4).toString('hex'));
  log(`smoke test in ${request.reference}: ${test.run}`);
  const from = buildahFromArgs(settings, request.reference, container, request);
  const created = await exec({ command: 'buildah', args: from }, log);
  if (created.exitCode !== 0) {
    throw new SmokeTestError(
      `smoke test of ${image}: could not start a container of ${request.reference} (exit ${created.exitCode})`,
      created.tail,
    );
  }
  try {
    await timed(
      { command: 'buildah', args: buildahRunArgs(settings, container, test.run) },
      'test.run',
    );
    log(`smoke test passed`);
  } finally {
    for (const args of buildahCleanupArgs(settings, container, request.reference)) {
      const result = await exec({ command: 'buildah', args }, () => undefined);
      if (result.exitCode !== 0)
        log(`could not clean up after the smoke test: buildah ${args.join(' ')}`);
    }
  }
}
