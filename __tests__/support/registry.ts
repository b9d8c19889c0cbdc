// A real OCI distribution registry (Debian's docker-registry) on 127.0.0.1 for tests:
// anonymous, or with htpasswd Basic auth. Each call starts its own on a free port.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';

export interface TestRegistry {
  /** `127.0.0.1:PORT` */
  host: string;
  /** Credentials when started with basic auth. */
  username?: string;
  password?: string;
  /** Everything the registry logged (one JSON or text line per request). */
  log(): string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

async function waitUntilUp(host: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited: ${output()}`);
    try {
      const response = await fetch(`http://${host}/v2/`);
      if (response.status === 200 || response.status === 401) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`docker-registry did not start on ${host}: ${output()}`);
}

export interface RegistryOptions {
  /** Basic auth with this user and password (htpasswd, bcrypt). */
  basicAuth?: { username: string; password: string };
  /** Extra config YAML merged at the top level (e.g. a token auth section). */
  extraConfig?: string;
}

export async function startRegistry(options: RegistryOptions = {}): Promise<TestRegistry> {
  const dir = await mkdtemp(join(tmpdir(), 'image-builder-registry-'));
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const lines = [
    'version: 0.1',
    'log:',
    '  level: info',
    '  accesslog:',
    '    disabled: false',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${join(dir, 'data')}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: ${host}`,
  ];
  if (options.basicAuth) {
    const hash = bcrypt.hashSync(options.basicAuth.password, 5);
    await writeFile(join(dir, 'htpasswd'), `${options.basicAuth.username}:${hash}\n`, {
      mode: 0o600,
    });
    lines.push(
      'auth:',
      '  htpasswd:',
      '    realm: test-realm',
      `    path: ${join(dir, 'htpasswd')}`,
    );
  }
  if (options.extraConfig) lines.push(options.extraConfig);
  await writeFile(join(dir, 'config.yml'), `${lines.join('\n')}\n`);

  let output = '';
  const child = spawn('docker-registry', ['serve', join(dir, 'config.yml')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  await waitUntilUp(host, child, () => output);

  return {
    host,
    ...(options.basicAuth
      ? { username: options.basicAuth.username, password: options.basicAuth.password }
      : {}),
    log: () => output,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
