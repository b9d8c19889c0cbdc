// A real OCI distribution registry (Debian's docker-registry) on 127.0.0.1 for tests:
// anonymous, with htpasswd Basic auth, or with token auth (see token-server.ts). Each call
// starts its own on a free port. Also: a programmable HTTP proxy to put in front of it
// (faults, redirects, behaviours distribution 2.8 lacks) and a helper that pushes a tiny
// image through the registry API.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  Agent,
  createServer as createHttpServer,
  request as httpRequest,
  type IncomingHttpHeaders,
} from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import bcrypt from 'bcryptjs';
import { pushScope } from '../../src/registry/auth.js';
import type { RegistryClient } from '../../src/registry/client.js';

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
  /** Token auth (`auth: token`): tokens from `realm`, signed by the key of `rootCertBundle`. */
  tokenAuth?: { realm: string; service: string; issuer: string; rootCertBundle: string };
  /** Extra config YAML merged at the top level. */
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
  if (options.tokenAuth) {
    lines.push(
      'auth:',
      '  token:',
      `    realm: ${options.tokenAuth.realm}`,
      `    service: ${options.tokenAuth.service}`,
      `    issuer: ${options.tokenAuth.issuer}`,
      `    rootcertbundle: ${options.tokenAuth.rootCertBundle}`,
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

/** Access log lines (`"METHOD /path HTTP/1.1" status`) as method, path and status. */
export function accessLog(log: string): { method: string; path: string; status: number }[] {
  const entries: { method: string; path: string; status: number }[] = [];
  for (const match of log.matchAll(/"([A-Z]+) (\S+) HTTP\/[\d.]+" (\d{3})/g)) {
    entries.push({ method: match[1] ?? '', path: match[2] ?? '', status: Number(match[3]) });
  }
  return entries;
}

/** Waits until the registry's log holds a line matching `pattern` (logs trail responses). */
export async function waitForLog(registry: TestRegistry, pattern: RegExp, from = 0): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!pattern.test(registry.log().slice(from))) {
    if (Date.now() > deadline) throw new Error(`no log line matching ${pattern}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export interface ProxyRequest {
  /** 0-based, in arrival order. */
  index: number;
  method: string;
  /** Path and query. */
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface ProxyResponse {
  status: number;
  headers?: Record<string, string | string[]>;
  body?: Buffer | string;
}

/** What the proxy does with a request: pass it on, answer itself, or cut the connection. */
export type ProxyAction = 'forward' | 'destroy' | ProxyResponse;

export interface TestProxy {
  /** `127.0.0.1:PORT` */
  host: string;
  requests: ProxyRequest[];
  /** Sends a request on to the target and returns its answer (for handlers that edit it). */
  forward(request: ProxyRequest): Promise<ProxyResponse>;
  stop(): Promise<void>;
}

/**
 * An HTTP proxy on 127.0.0.1 in front of `target` (`host:port`). The Host header is passed
 * on unchanged, so the registry writes the proxy's address into Location headers.
 */
export async function startProxy(
  target: string,
  handler: (request: ProxyRequest, proxy: TestProxy) => ProxyAction | Promise<ProxyAction> = () =>
    'forward',
): Promise<TestProxy> {
  const [targetHost, targetPort] = [
    target.slice(0, target.lastIndexOf(':')),
    target.slice(target.lastIndexOf(':') + 1),
  ];
  const agent = new Agent({ keepAlive: false });
  const requests: ProxyRequest[] = [];
  const forward = (request: ProxyRequest): Promise<ProxyResponse> =>
    new Promise((resolve, reject) => {
      const upstream = httpRequest(
        {
          host: targetHost,
          port: Number(targetPort),
          method: request.method,
          path: request.url,
          headers: request.headers,
          agent,
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('error', reject);
          response.on('end', () => {
            const headers: Record<string, string | string[]> = {};
            for (const [name, value] of Object.entries(response.headers)) {
              if (value !== undefined) headers[name] = value;
            }
            resolve({ status: response.statusCode ?? 502, headers, body: Buffer.concat(chunks) });
          });
        },
      );
      upstream.on('error', reject);
      upstream.end(request.body);
    });
  const server = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request: ProxyRequest = {
        index: requests.length,
        method: req.method ?? 'GET',
        url: req.url ?? '/',
        headers: req.headers,
        body: Buffer.concat(chunks),
      };
      requests.push(request);
      void (async () => {
        try {
          const action = await handler(request, proxy);
          if (action === 'destroy') {
            req.socket.destroy();
            return;
          }
          const answer = action === 'forward' ? await forward(request) : action;
          const body =
            typeof answer.body === 'string'
              ? Buffer.from(answer.body)
              : (answer.body ?? Buffer.alloc(0));
          const headers = { ...answer.headers };
          delete headers['content-length'];
          delete headers['transfer-encoding'];
          delete headers.connection;
          headers['content-length'] = String(body.length);
          res.writeHead(answer.status, headers);
          res.end(request.method === 'HEAD' ? undefined : body);
        } catch (error) {
          res.writeHead(599);
          res.end(String(error));
        }
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const proxy: TestProxy = {
    host: `127.0.0.1:${port}`,
    requests,
    forward,
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
        agent.destroy();
      }),
  };
  return proxy;
}

export interface PushedImage {
  /** The manifest's digest. */
  digest: string;
  manifest: Buffer;
  mediaType: string;
  configDigest: string;
  layerDigest: string;
}

/**
 * Pushes a tiny single-layer image (an empty tar, gzipped) by hand through the API: two
 * monolithic blob uploads (POST, then PUT with the digest) and a manifest PUT.
 * `repository` is `host/path`; `seed` makes the config, and so the digest, unique.
 */
export async function pushTestImage(
  client: RegistryClient,
  repository: string,
  tag: string,
  options: { seed?: string; format?: 'docker' | 'oci' } = {},
): Promise<PushedImage> {
  const slash = repository.indexOf('/');
  const registry = repository.slice(0, slash);
  const path = repository.slice(slash + 1);
  const tar = Buffer.alloc(1024); // two zero blocks: the end of an empty tar archive
  const layer = gzipSync(tar);
  const sha = (bytes: Buffer): string =>
    `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { Labels: { seed: options.seed ?? 'test' } },
      rootfs: { type: 'layers', diff_ids: [sha(tar)] },
    }),
  );
  const oci = options.format === 'oci';
  for (const blob of [config, layer]) {
    const started = await client.transport.request({
      method: 'POST',
      registry,
      path: `/v2/${path}/blobs/uploads/`,
      scopes: [pushScope(path)],
    });
    if (started.status !== 202) throw new Error(`upload start: ${started.status} ${started.body}`);
    const location = new URL(started.headers.get('location') ?? '', started.url);
    location.searchParams.set('digest', sha(blob));
    const done = await client.transport.request({
      method: 'PUT',
      registry,
      path: location.toString(),
      scopes: [pushScope(path)],
      headers: { 'Content-Type': 'application/octet-stream' },
      body: blob,
    });
    if (done.status !== 201) throw new Error(`upload: ${done.status} ${done.body}`);
  }
  const mediaType = oci
    ? 'application/vnd.oci.image.manifest.v1+json'
    : 'application/vnd.docker.distribution.manifest.v2+json';
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      config: {
        mediaType: oci
          ? 'application/vnd.oci.image.config.v1+json'
          : 'application/vnd.docker.container.image.v1+json',
        digest: sha(config),
        size: config.length,
      },
      layers: [
        {
          mediaType: oci
            ? 'application/vnd.oci.image.layer.v1.tar+gzip'
            : 'application/vnd.docker.image.rootfs.diff.tar.gzip',
          digest: sha(layer),
          size: layer.length,
        },
      ],
    }),
  );
  const digest = await client.putManifest(repository, tag, manifest, mediaType);
  return { digest, manifest, mediaType, configDigest: sha(config), layerDigest: sha(layer) };
}
