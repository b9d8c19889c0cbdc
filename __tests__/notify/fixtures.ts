import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { BuildOutcome } from '../../src/build/run-build.js';
import type { Plan } from '../../src/core/plan.js';

export const SHA = '0123456789abcdef0123456789abcdef01234567';
export const DIGEST = `sha256:${'d'.repeat(64)}`;

export function fixturePlan(): Plan {
  return {
    version: 1,
    event: {
      platform: 'github',
      kind: 'push',
      sourceEvent: 'push',
      ref: 'main',
      refType: 'branch',
      sha: SHA,
      defaultBranch: 'main',
      isDefaultBranch: true,
      changes: 'git diff',
    },
    images: [],
    unaffected: [],
    removed: [],
    graph: [],
    warnings: [],
  };
}

export function fixtureOutcome(): BuildOutcome {
  return {
    ok: false,
    heldBack: ['latest'],
    images: [
      {
        name: 'base',
        status: 'built',
        repository: 'ghcr.io/acme/base',
        digest: DIGEST,
        tags: [SHA, 'main'],
        seconds: 12.34,
      },
      {
        name: 'api',
        status: 'failed',
        repository: 'ghcr.io/acme/api',
        tags: [],
        detail: 'RUN npm ci exited with 1 <stderr & more>',
      },
    ],
  };
}

export interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export type Reply = (res: http.ServerResponse) => void;

export const replyWith =
  (status: number, body = '', headers: Record<string, string> = {}): Reply =>
  (res) => {
    res.writeHead(status, headers);
    res.end(body);
  };

export const hang: Reply = () => undefined;

/** A local HTTP server answering with `replies` in turn, then 200 "ok". */
export async function startServer(replies: Reply[] = []) {
  const received: Received[] = [];
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      (replies.shift() ?? replyWith(200, 'ok'))(res);
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: (path: string) => `http://127.0.0.1:${port}${path}`,
    received,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export function recordingHost() {
  const warnings: string[] = [];
  const infos: string[] = [];
  const masked: string[] = [];
  return {
    warnings,
    infos,
    masked,
    host: {
      warning: (message: string) => void warnings.push(message),
      info: (line: string) => void infos.push(line),
      mask: (secret: string) => void masked.push(secret),
    },
  };
}
