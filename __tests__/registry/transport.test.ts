// The transport: scheme choice, challenges, backoff, Retry-After, and — through a faulty
// proxy in front of the real registry — retries and redirects.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import {
  TokenCache,
  mergeScopes,
  parseChallenges,
  parseTokenResponse,
  scopesCover,
} from '../../src/registry/auth.js';
import { RegistryClient } from '../../src/registry/client.js';
import { anonymousCredentials, staticCredentials } from '../../src/registry/credentials.js';
import { RegistryError, parseErrorBody, redactUrl } from '../../src/registry/errors.js';
import {
  Transport,
  backoffDelay,
  isLoopback,
  parseRetryAfter,
  type RetryInfo,
} from '../../src/registry/transport.js';
import {
  type PushedImage,
  type TestProxy,
  type TestRegistry,
  pushTestImage,
  startProxy,
  startRegistry,
} from '../support/registry.js';

describe('scheme', () => {
  test.each([
    ['127.0.0.1:5000', true],
    ['127.1.2.3', true],
    ['localhost', true],
    ['localhost:5000', true],
    ['[::1]:5000', true],
    ['128.0.0.1:5000', false],
    ['localhost.example.com', false],
    ['ghcr.io', false],
    ['docker.io', false],
  ])('%s is loopback: %s', (host, loopback) => {
    expect(isLoopback(host)).toBe(loopback);
  });

  test('http for loopback and insecure hosts, https otherwise; Docker Hub via registry-1', () => {
    const transport = new Transport({
      credentials: anonymousCredentials,
      insecure: (host) => host === 'registry.lan:5000',
    });
    expect(transport.baseUrl('127.0.0.1:5000')).toBe('http://127.0.0.1:5000');
    expect(transport.baseUrl('[::1]:5000')).toBe('http://[::1]:5000');
    expect(transport.baseUrl('registry.lan:5000')).toBe('http://registry.lan:5000');
    expect(transport.baseUrl('registry.lan:5001')).toBe('https://registry.lan:5001');
    expect(transport.baseUrl('ghcr.io')).toBe('https://ghcr.io');
    expect(transport.baseUrl('docker.io')).toBe('https://registry-1.docker.io');
  });
});

describe('challenges and scopes', () => {
  test.each([
    ['Basic realm="Registry Realm"', [{ scheme: 'basic', params: { realm: 'Registry Realm' } }]],
    [
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"',
      [
        {
          scheme: 'bearer',
          params: {
            realm: 'https://auth.docker.io/token',
            service: 'registry.docker.io',
            scope: 'repository:library/alpine:pull',
          },
        },
      ],
    ],
    [
      'Bearer realm="https://r/t", scope="repository:a:pull,push", error="insufficient_scope"',
      [
        {
          scheme: 'bearer',
          params: {
            realm: 'https://r/t',
            scope: 'repository:a:pull,push',
            error: 'insufficient_scope',
          },
        },
      ],
    ],
    [
      'Basic realm="b", Bearer realm="https://r/t",service=reg',
      [
        { scheme: 'basic', params: { realm: 'b' } },
        { scheme: 'bearer', params: { realm: 'https://r/t', service: 'reg' } },
      ],
    ],
    ['', []],
  ])('%s', (header, challenges) => {
    expect(parseChallenges(header)).toEqual(challenges);
  });

  test('scopes merge per resource and cover lesser needs', () => {
    expect(
      mergeScopes([
        'repository:b:push',
        'repository:a:pull',
        'repository:b:pull',
        'repository:a:pull',
      ]),
    ).toEqual(['repository:a:pull', 'repository:b:pull,push']);
    expect(scopesCover(['repository:a:pull,push'], ['repository:a:pull'])).toBe(true);
    expect(scopesCover(['repository:a:pull'], ['repository:a:pull,push'])).toBe(false);
    expect(scopesCover(['repository:a:pull,push'], ['repository:b:pull'])).toBe(false);
  });

  test('the token cache keeps a token until expires_in minus a margin', () => {
    let now = 0;
    const cache = new TokenCache(() => now);
    cache.set('r', ['repository:a:pull,push'], 'T1', 60);
    expect(cache.get('r', ['repository:a:pull'])).toBe('T1');
    expect(cache.get('other', ['repository:a:pull'])).toBeUndefined();
    now = 49_999;
    expect(cache.get('r', ['repository:a:pull,push'])).toBe('T1');
    now = 50_000;
    expect(cache.get('r', ['repository:a:pull,push'])).toBeUndefined();
  });

  test.each([
    ['{"token":"t","expires_in":300}', { token: 't', expiresIn: 300 }],
    ['{"access_token":"a"}', { token: 'a', expiresIn: 60 }],
    ['{"token":"","access_token":"a","expires_in":0}', { token: 'a', expiresIn: 60 }],
    ['{"expires_in":300}', undefined],
    ['not json', undefined],
  ])('token response %s', (body, parsed) => {
    expect(parseTokenResponse(body)).toEqual(parsed);
  });
});

describe('backoff', () => {
  const options = { baseDelayMs: 200, maxDelayMs: 5_000 };
  test.each([
    [1, 199],
    [2, 399],
    [3, 799],
    [5, 3199],
    [6, 4999],
    [20, 4999],
  ])('retry %i waits less than the capped exponential ceiling (%i at most)', (retry, most) => {
    expect(backoffDelay(retry, options, () => 0.9999)).toBe(most);
    expect(backoffDelay(retry, options, () => 0)).toBe(0);
  });

  test('Retry-After in seconds or as an HTTP date', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:10 GMT', now)).toBe(10_000);
    expect(parseRetryAfter('Tue, 31 Dec 2024 23:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });
});

describe('errors', () => {
  test.each([
    ['https://user:pw@r.example/v2/', 'https://r.example/v2/'],
    [
      'https://auth.example/token?service=r&scope=repository%3Aa%3Apull&access_token=abc',
      'https://auth.example/token?service=r&scope=repository%3Aa%3Apull&access_token=REDACTED',
    ],
    [
      'https://bucket.s3.amazonaws.com/blob?X-Amz-Credential=AK&X-Amz-Signature=s&X-Amz-Date=1',
      'https://bucket.s3.amazonaws.com/blob?X-Amz-Credential=REDACTED&X-Amz-Signature=REDACTED&X-Amz-Date=REDACTED',
    ],
    ['http://127.0.0.1:5000/v2/a/manifests/latest', 'http://127.0.0.1:5000/v2/a/manifests/latest'],
    ['not a url', 'not a url'],
  ])('redacts %s', (url, redacted) => {
    expect(redactUrl(url)).toBe(redacted);
  });

  test('the message names method, redacted URL, status and codes', () => {
    const error = new RegistryError({
      method: 'PUT',
      url: 'http://u:p@127.0.0.1:5000/v2/a/manifests/latest',
      status: 400,
      errors: parseErrorBody(
        '{"errors":[{"code":"MANIFEST_INVALID","message":"manifest invalid","detail":{}}]}',
      ),
    });
    expect(error.message).toBe(
      'PUT http://127.0.0.1:5000/v2/a/manifests/latest: 400 MANIFEST_INVALID: manifest invalid',
    );
    expect(error.codes).toEqual(['MANIFEST_INVALID']);
    expect(error.name).toBe('RegistryError');
    expect(
      new RegistryError({ method: 'GET', url: 'http://h/v2/', status: 503, attempts: 5 }).message,
    ).toBe('GET http://h/v2/: 503 Service Unavailable (after 5 attempts)');
  });
});

describe('through a faulty proxy in front of the real registry', () => {
  let registry: TestRegistry;
  let image: PushedImage;
  const proxies: TestProxy[] = [];
  const servers: Server[] = [];

  beforeAll(async () => {
    registry = await startRegistry();
    image = await pushTestImage(
      new RegistryClient({ credentials: anonymousCredentials }),
      `${registry.host}/acme/api`,
      'v1',
    );
  });

  afterAll(async () => {
    for (const proxy of proxies) await proxy.stop();
    for (const server of servers) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
    await registry?.stop();
  });

  /** A proxy that answers the first `failures` manifest requests with `fault`. */
  async function faulty(
    failures: number,
    fault: 'destroy' | { status: number; headers?: Record<string, string> },
  ): Promise<TestProxy> {
    let failed = 0;
    const proxy = await startProxy(registry.host, (request) => {
      if (!request.url.includes('/manifests/') || failed >= failures) return 'forward';
      failed++;
      return fault === 'destroy' ? 'destroy' : { ...fault, body: '' };
    });
    proxies.push(proxy);
    return proxy;
  }

  function clientFor(attempts = 5): {
    client: RegistryClient;
    retries: RetryInfo[];
    sleeps: number[];
  } {
    const retries: RetryInfo[] = [];
    const sleeps: number[] = [];
    const client = new RegistryClient({
      credentials: anonymousCredentials,
      retry: { attempts, sleep: async (ms) => void sleeps.push(ms), random: () => 0.5 },
      onRetry: (info) => retries.push(info),
    });
    return { client, retries, sleeps };
  }

  const manifestRequests = (proxy: TestProxy): number =>
    proxy.requests.filter((request) => request.url.includes('/manifests/')).length;

  test('503s are retried with jittered exponential backoff', async () => {
    const proxy = await faulty(2, { status: 503 });
    const { client, retries, sleeps } = clientFor();
    expect(await client.headManifest(`${proxy.host}/acme/api:v1`)).toMatchObject({
      digest: image.digest,
    });
    expect(retries.map(({ attempt, status, method }) => ({ attempt, status, method }))).toEqual([
      { attempt: 1, status: 503, method: 'HEAD' },
      { attempt: 2, status: 503, method: 'HEAD' },
    ]);
    expect(sleeps).toEqual([100, 200]); // half of 200, half of 400 (random = 0.5)
    expect(manifestRequests(proxy)).toBe(3);
    expect(client.requestCount).toBe(4); // ping + 3 tries
  });

  test('429 waits as long as Retry-After says (seconds or HTTP date)', async () => {
    const proxy = await faulty(1, { status: 429, headers: { 'retry-after': '2' } });
    const { client, retries, sleeps } = clientFor();
    await client.getManifest(`${proxy.host}/acme/api:v1`);
    expect(sleeps).toEqual([2000]);
    expect(retries[0]).toMatchObject({ status: 429, delayMs: 2000, attempt: 1, attempts: 5 });

    const dated = await faulty(1, {
      status: 429,
      headers: { 'retry-after': new Date(Date.now() + 60_000).toUTCString() },
    });
    const second = clientFor();
    await second.client.getManifest(`${dated.host}/acme/api:v1`);
    expect(second.sleeps[0]).toBeGreaterThan(55_000);
    expect(second.sleeps[0]).toBeLessThanOrEqual(60_000);
  });

  test('a connection cut mid-request is retried, a PUT body included', async () => {
    const proxy = await faulty(2, 'destroy');
    const { client, retries } = clientFor();
    const digest = await client.putManifest(
      `${proxy.host}/acme/api`,
      'after-cut',
      image.manifest,
      image.mediaType,
    );
    expect(digest).toBe(image.digest);
    expect(retries).toHaveLength(2);
    expect(retries[0]).toMatchObject({ method: 'PUT', attempt: 1 });
    expect(retries[0]?.status).toBeUndefined();
    expect(retries[0]?.error).toMatch(/UND_ERR_SOCKET|ECONNRESET|socket/i);
  });

  test('gives up after the configured attempts, quickly, with a clear error', async () => {
    const proxy = await faulty(Infinity, { status: 503 });
    const { client, retries } = clientFor(3);
    const started = Date.now();
    const error = await client.getManifest(`${proxy.host}/acme/api:v1`).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(error).toBeInstanceOf(RegistryError);
    expect((error as Error).message).toBe(
      `GET http://${proxy.host}/v2/acme/api/manifests/v1: 503 Service Unavailable (after 3 attempts)`,
    );
    expect(retries).toHaveLength(2);
    expect(manifestRequests(proxy)).toBe(3);

    const cut = await faulty(Infinity, 'destroy');
    const second = clientFor(3);
    const networkError = await second.client
      .getManifest(`${cut.host}/acme/api:v1`)
      .catch((e: unknown) => e);
    expect(networkError).toBeInstanceOf(RegistryError);
    expect(networkError).toMatchObject({ status: undefined, attempts: 3 });
    expect((networkError as Error).message).toMatch(
      new RegExp(
        `^GET http://${cut.host}/v2/acme/api/manifests/v1: fetch failed: .+ \\(after 3 attempts\\)$`,
      ),
    );
    expect(manifestRequests(cut)).toBe(3);
  });

  test('one request waits 60 s in all at most, however long Retry-After says', async () => {
    const proxy = await faulty(Infinity, { status: 429, headers: { 'retry-after': '40' } });
    const { client, sleeps } = clientFor();
    await expect(client.getManifest(`${proxy.host}/acme/api:v1`)).rejects.toMatchObject({
      status: 429,
      attempts: 2,
    });
    expect(sleeps).toEqual([40_000]);
    expect(manifestRequests(proxy)).toBe(2);
  });

  test('after 2 requests in a row fail on every try, the next get one try until one succeeds', async () => {
    let down = true;
    const proxy = await startProxy(registry.host, (request) =>
      down && request.url !== '/v2/' ? { status: 503, body: '' } : 'forward',
    );
    proxies.push(proxy);
    const { client, retries } = clientFor(2);
    const failure = (promise: Promise<unknown>): Promise<Error> =>
      promise.then(
        () => new Error('succeeded'),
        (e: unknown) => e as Error,
      );

    // A success in between starts the count again.
    await failure(client.getManifest(`${proxy.host}/acme/api:v1`));
    down = false;
    await client.getManifest(`${proxy.host}/acme/api:v1`);
    down = true;
    await failure(client.getManifest(`${proxy.host}/acme/api:v1`));
    expect(manifestRequests(proxy)).toBe(5);
    await failure(client.headManifest(`${proxy.host}/acme/api:v1`));
    expect(manifestRequests(proxy)).toBe(7);

    // Given up on: one try, no retry, and the error says why.
    const retried = retries.length;
    const error = await failure(client.headManifest(`${proxy.host}/acme/api:v1`));
    expect(manifestRequests(proxy)).toBe(8);
    expect(retries).toHaveLength(retried);
    expect(error).toBeInstanceOf(RegistryError);
    expect(error.message).toBe(
      `HEAD http://${proxy.host}/v2/acme/api/manifests/v1: 503 Service Unavailable (not retried: the last 2 requests to ${proxy.host} failed after 2 tries each)`,
    );
    // Other registries are not affected.
    expect(await client.headManifest(`${registry.host}/acme/api:v1`)).toMatchObject({
      digest: image.digest,
    });
    // The registry is back: the first request that succeeds ends the single tries.
    down = false;
    expect(await client.headManifest(`${proxy.host}/acme/api:v1`)).toMatchObject({
      digest: image.digest,
    });
    down = true;
    await failure(client.headManifest(`${proxy.host}/acme/api:v1`));
    expect(retries).toHaveLength(retried + 1);
  });

  test('every request goes through the injected fetch, counted in requestCount', async () => {
    const seen: string[] = [];
    const client = new RegistryClient({
      credentials: anonymousCredentials,
      fetch: (input, init) => {
        seen.push(`${init?.method} ${String(input)} ${init?.redirect}`);
        return fetch(input, init);
      },
    });
    await client.tagManifest(`${registry.host}/acme/api:v1`, 'injected');
    expect(seen).toEqual([
      `GET http://${registry.host}/v2/ manual`,
      `GET http://${registry.host}/v2/acme/api/manifests/v1 manual`,
      `PUT http://${registry.host}/v2/acme/api/manifests/injected manual`,
    ]);
    expect(client.requestCount).toBe(3);
  });

  test('other 4xx are not retried', async () => {
    const proxy = await faulty(Infinity, { status: 403 });
    const { client, retries } = clientFor();
    await expect(client.getManifest(`${proxy.host}/acme/api:v1`)).rejects.toMatchObject({
      status: 403,
    });
    expect(await client.headManifest(`${registry.host}/acme/api:nope`)).toBeUndefined();
    expect(retries).toEqual([]);
    expect(manifestRequests(proxy)).toBe(1);
  });

  test('redirects keep Authorization on the same host and drop it on another', async () => {
    const username = 'u';
    const password = 'redirect-Secret';
    const secured = await startRegistry({ basicAuth: { username, password } });
    try {
      const pusher = new RegistryClient({
        credentials: staticCredentials({ [secured.host]: { username, password } }),
      });
      const pushed = await pushTestImage(pusher, `${secured.host}/acme/api`, 'v1');

      // Blob storage elsewhere (like a pre-signed S3 URL): another loopback address.
      const seen: IncomingHttpHeaders[] = [];
      const storage = createServer((req, res) => {
        seen.push(req.headers);
        void pusher.getBlob(`${secured.host}/acme/api`, pushed.configDigest).then((bytes) => {
          res.writeHead(200, { 'content-type': 'application/octet-stream' });
          res.end(bytes);
        });
      });
      servers.push(storage);
      await new Promise<void>((resolve) => storage.listen(0, '127.0.0.2', resolve));
      const address = storage.address();
      const storagePort = typeof address === 'object' && address ? address.port : 0;

      const proxy = await startProxy(secured.host, (request) => {
        const url = new URL(request.url, 'http://proxy');
        if (url.pathname.endsWith(pushed.configDigest) && request.method === 'GET') {
          const to = url.searchParams.has('same')
            ? `${url.pathname}?moved=1`
            : `http://127.0.0.2:${storagePort}/storage/blob?X-Amz-Signature=sig`;
          return { status: 307, headers: { location: to } };
        }
        return 'forward';
      });
      proxies.push(proxy);
      const viaProxy = new RegistryClient({
        credentials: staticCredentials({ [proxy.host]: { username, password } }),
      });

      const bytes = await viaProxy.getBlob(`${proxy.host}/acme/api`, pushed.configDigest);
      expect(bytes.length).toBeGreaterThan(0);
      expect(seen).toHaveLength(1);
      expect(seen[0]?.authorization).toBeUndefined();
      const toStorage = proxy.requests.filter((request) => request.url.includes('/blobs/'));
      expect(toStorage[0]?.headers.authorization).toMatch(/^Basic /);

      // Same origin: the registry behind the proxy needs the header, and gets it.
      const before = proxy.requests.length;
      const response = await viaProxy.transport.request({
        method: 'GET',
        registry: proxy.host,
        path: `/v2/acme/api/blobs/${pushed.configDigest}?same=1`,
        scopes: ['repository:acme/api:pull'],
      });
      expect(response.status).toBe(200);
      const hops = proxy.requests
        .slice(before)
        .filter((request) => request.url.includes('/blobs/'));
      expect(hops.map((request) => request.url)).toEqual([
        `/v2/acme/api/blobs/${pushed.configDigest}?same=1`,
        `/v2/acme/api/blobs/${pushed.configDigest}?moved=1`,
      ]);
      expect(hops.every((request) => request.headers.authorization?.startsWith('Basic '))).toBe(
        true,
      );
    } finally {
      await secured.stop();
    }
  });
});
