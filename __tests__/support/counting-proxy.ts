// A streaming HTTP proxy on 127.0.0.1 that counts what passes to a registry: every
// request with its status and the bytes of its body, without holding bodies in memory and
// with keep-alive on both sides (so it costs little next to what it measures, unlike
// registry.ts's programmable proxy, which buffers each exchange). The Host header is passed
// on, so the registry writes the proxy's address into Location headers and uploads stay
// on the proxy.
import { Agent, createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface CountedRequest {
  method: string;
  /** Path and query. */
  url: string;
  /** The registry's status (0 until it answered, 502 when unreachable). */
  status: number;
  /** Bytes of the request body. */
  bytesIn: number;
}

export interface CountingProxy {
  /** `127.0.0.1:PORT` */
  host: string;
  requests: CountedRequest[];
  /** Forgets what was counted so far. */
  reset(): void;
  /** Requests other than the `/v2/` ping (authentication, not work). */
  work(): CountedRequest[];
  /** Requests that upload blob bytes: an upload started (POST without `mount=`), a PATCH
   *  or the closing PUT of an upload. */
  blobUploads(): CountedRequest[];
  /** Bytes sent in blob uploads. */
  uploadedBytes(): number;
  stop(): Promise<void>;
}

export function isBlobUpload(request: Pick<CountedRequest, 'method' | 'url'>): boolean {
  if (!/\/blobs\/uploads\//.test(request.url)) return false;
  if (request.method === 'PATCH') return true;
  if (request.method === 'PUT') return true;
  return request.method === 'POST' && !/[?&]mount=/.test(request.url);
}

export async function startCountingProxy(target: string): Promise<CountingProxy> {
  const colon = target.lastIndexOf(':');
  const targetHost = target.slice(0, colon);
  const targetPort = Number(target.slice(colon + 1));
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  let requests: CountedRequest[] = [];

  const server = createServer((req, res) => {
    const counted: CountedRequest = {
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      status: 0,
      bytesIn: 0,
    };
    requests.push(counted);
    req.on('data', (chunk: Buffer) => (counted.bytesIn += chunk.length));
    const upstream = httpRequest(
      {
        host: targetHost,
        port: targetPort,
        method: req.method,
        path: req.url,
        headers: req.headers,
        agent,
      },
      (answer) => {
        counted.status = answer.statusCode ?? 502;
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', (error) => {
      counted.status = 502;
      if (!res.headersSent) res.writeHead(502);
      res.end(String(error));
    });
    req.pipe(upstream);
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const proxy: CountingProxy = {
    host: `127.0.0.1:${port}`,
    get requests() {
      return requests;
    },
    reset: () => {
      requests = [];
    },
    work: () => requests.filter((request) => request.url !== '/v2/'),
    blobUploads: () => requests.filter(isBlobUpload),
    uploadedBytes: () =>
      requests.filter(isBlobUpload).reduce((sum, request) => sum + request.bytesIn, 0),
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
        agent.destroy();
      }),
  };
  return proxy;
}
