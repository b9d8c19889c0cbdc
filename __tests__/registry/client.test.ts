// Registry operations against a real distribution registry (Debian's docker-registry 2.8)
// on 127.0.0.1, anonymous access.
import { createHash } from 'node:crypto';
import { RegistryClient, nextLink } from '../../src/registry/client.js';
import { anonymousCredentials } from '../../src/registry/credentials.js';
import { RegistryError } from '../../src/registry/errors.js';
import {
  type PushedImage,
  type TestProxy,
  type TestRegistry,
  accessLog,
  pushTestImage,
  startProxy,
  startRegistry,
  waitForLog,
} from '../support/registry.js';

const sha256 = (bytes: Buffer): string =>
  `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

let registry: TestRegistry;
let client: RegistryClient;
let image: PushedImage;
const proxies: TestProxy[] = [];
const repo = (path = 'acme/api'): string => `${registry.host}/${path}`;

beforeAll(async () => {
  registry = await startRegistry();
  client = new RegistryClient({ credentials: anonymousCredentials });
  image = await pushTestImage(client, repo(), 'v1');
});

afterAll(async () => {
  for (const proxy of proxies) await proxy.stop();
  await registry?.stop();
});

describe('manifests', () => {
  test('headManifest describes a tag, and is undefined for a missing tag or repository', async () => {
    expect(await client.headManifest(`${repo()}:v1`)).toEqual({
      digest: image.digest,
      mediaType: image.mediaType,
      size: image.manifest.length,
    });
    expect(await client.headManifest(`${repo()}@${image.digest}`)).toMatchObject({
      digest: image.digest,
    });
    expect(await client.headManifest(`${repo()}:nope`)).toBeUndefined();
    expect(await client.headManifest(`${repo('acme/none')}:v1`)).toBeUndefined();
  });

  test('getManifest keeps the exact bytes, by tag and by digest', async () => {
    const byTag = await client.getManifest(`${repo()}:v1`);
    expect(byTag.bytes.equals(image.manifest)).toBe(true);
    expect(byTag).toMatchObject({ mediaType: image.mediaType, digest: image.digest });
    expect(sha256(byTag.bytes)).toBe(image.digest);
    const byDigest = await client.getManifest(`${repo()}@${image.digest}`);
    expect(byDigest.bytes.equals(image.manifest)).toBe(true);
  });

  test('a missing manifest is a RegistryError with the registry code and the URL', async () => {
    const error = await client.getManifest(`${repo()}:nope`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryError);
    expect(error).toMatchObject({ status: 404, code: 'MANIFEST_UNKNOWN', method: 'GET' });
    expect((error as RegistryError).message).toBe(
      `GET http://${registry.host}/v2/acme/api/manifests/nope: 404 MANIFEST_UNKNOWN: manifest unknown`,
    );
  });

  test('putManifest returns the digest; an invalid manifest fails with the registry codes', async () => {
    const digest = await client.putManifest(repo(), 'again', image.manifest, image.mediaType);
    expect(digest).toBe(image.digest);

    const broken = Buffer.from(
      image.manifest.toString('utf8').replace(image.layerDigest, `sha256:${'0'.repeat(64)}`),
    );
    const error = await client
      .putManifest(repo(), 'broken', broken, image.mediaType)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryError);
    expect(error).toMatchObject({ status: 400, method: 'PUT', code: 'MANIFEST_BLOB_UNKNOWN' });
    expect((error as RegistryError).message).toMatch(
      new RegExp(
        `^PUT http://${registry.host}/v2/acme/api/manifests/broken: 400 MANIFEST_BLOB_UNKNOWN: blob unknown to registry`,
      ),
    );
  });
});

describe('tagManifest', () => {
  test('a retag is one GET and one PUT of the manifest, and moves no blob', async () => {
    await client.headManifest(`${repo()}:v1`); // the registry is pinged already
    const before = client.requestCount;
    const logFrom = registry.log().length;

    const digest = await client.tagManifest(`${repo()}:v1`, 'v1-copy');

    expect(digest).toBe(image.digest);
    expect(client.requestCount - before).toBe(2);
    await waitForLog(registry, /"PUT \/v2\/acme\/api\/manifests\/v1-copy /, logFrom);
    const requests = accessLog(registry.log().slice(logFrom));
    expect(requests.map(({ method, path }) => `${method} ${path}`)).toEqual([
      'GET /v2/acme/api/manifests/v1',
      'PUT /v2/acme/api/manifests/v1-copy',
    ]);
    expect(requests.filter(({ path }) => path.includes('/blobs/'))).toEqual([]);
    expect(await client.headManifest(`${repo()}:v1-copy`)).toMatchObject({ digest });
  });

  test('a source named by digest is retagged byte for byte', async () => {
    const digest = await client.tagManifest(`${repo()}@${image.digest}`, 'by-digest');
    expect(digest).toBe(image.digest);
    const copy = await client.getManifest(`${repo()}:by-digest`);
    expect(copy.bytes.equals(image.manifest)).toBe(true);
  });

  test('an OCI index keeps its media type and digest', async () => {
    const oci = await pushTestImage(client, repo('acme/multi'), 'amd64', {
      seed: 'oci',
      format: 'oci',
    });
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [
          {
            mediaType: oci.mediaType,
            digest: oci.digest,
            size: oci.manifest.length,
            platform: { architecture: 'amd64', os: 'linux' },
          },
        ],
      }),
    );
    const indexType = 'application/vnd.oci.image.index.v1+json';
    const indexDigest = await client.putManifest(repo('acme/multi'), 'latest', index, indexType);
    expect(indexDigest).toBe(sha256(index));

    expect(await client.tagManifest(`${repo('acme/multi')}:latest`, 'release')).toBe(indexDigest);
    expect(await client.headManifest(`${repo('acme/multi')}:release`)).toEqual({
      digest: indexDigest,
      mediaType: indexType,
      size: index.length,
    });
  });

  test('an invalid target tag is refused before any request', async () => {
    const before = client.requestCount;
    await expect(client.tagManifest(`${repo()}:v1`, 'bad tag')).rejects.toThrow(/tag "bad tag"/);
    expect(client.requestCount).toBe(before);
  });
});

describe('listTags', () => {
  test('lists every tag; distribution 2.8 ignores n and answers in one page', async () => {
    await pushTestImage(client, repo('acme/tags'), 't1');
    for (const tag of ['t2', 't3', 't4', 't5']) {
      await client.tagManifest(`${repo('acme/tags')}:t1`, tag);
    }
    const before = client.requestCount;
    const tags = await client.listTags(repo('acme/tags'), { pageSize: 2 });
    expect([...tags].sort()).toEqual(['t1', 't2', 't3', 't4', 't5']);
    expect(client.requestCount - before).toBe(1);
  });

  test('follows Link rel="next" pages', async () => {
    // distribution 3 pages tag lists (n, last, Link); 2.8 does not, so a proxy pages the
    // real registry's answer the way distribution 3 does.
    const proxy = await startProxy(registry.host, async (request, self) => {
      const url = new URL(request.url, 'http://proxy');
      if (!url.pathname.endsWith('/tags/list')) return 'forward';
      const full = await self.forward({ ...request, url: url.pathname });
      const all = (JSON.parse(String(full.body)) as { tags: string[] }).tags.sort();
      const n = Number(url.searchParams.get('n') ?? all.length);
      const last = url.searchParams.get('last');
      const start = last ? all.findIndex((tag) => tag > last) : 0;
      const page = start === -1 ? [] : all.slice(start, start + n);
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (start !== -1 && start + n < all.length) {
        headers.link = `<${url.pathname}?n=${n}&last=${page[page.length - 1]}>; rel="next"`;
      }
      return { status: 200, headers, body: JSON.stringify({ name: 'acme/tags', tags: page }) };
    });
    proxies.push(proxy);
    const paged = new RegistryClient({ credentials: anonymousCredentials });

    const tags = await paged.listTags(`${proxy.host}/acme/tags`, { pageSize: 2 });

    expect(tags).toEqual(['t1', 't2', 't3', 't4', 't5']);
    expect(proxy.requests.map((request) => `${request.method} ${request.url}`)).toEqual([
      'GET /v2/',
      'GET /v2/acme/tags/tags/list?n=2',
      'GET /v2/acme/tags/tags/list?n=2&last=t2',
      'GET /v2/acme/tags/tags/list?n=2&last=t4',
    ]);
    expect(paged.requestCount).toBe(4);
  });

  test.each([
    ['</v2/a/tags/list?n=2&last=b>; rel="next"', '/v2/a/tags/list?n=2&last=b'],
    [
      '<https://r.example/v2/a/tags/list?last=b>; rel=next',
      'https://r.example/v2/a/tags/list?last=b',
    ],
    ['</prev>; rel="prev", </next>; rel="next"', '/next'],
    ['</x>; rel="prev"', undefined],
    ['', undefined],
  ])('Link %j has next %j', (header, next) => {
    expect(nextLink(header)).toBe(next);
  });
});

describe('blobs', () => {
  test('headBlob tells whether a repository has a blob', async () => {
    expect(await client.headBlob(repo(), image.layerDigest)).toBe(true);
    expect(await client.headBlob(repo(), image.configDigest)).toBe(true);
    expect(await client.headBlob(repo(), `sha256:${'1'.repeat(64)}`)).toBe(false);
  });

  test('getBlob returns the checked bytes', async () => {
    const config = await client.getBlob(repo(), image.configDigest);
    expect(sha256(config)).toBe(image.configDigest);
  });

  test('mountBlob mounts across repositories (201)', async () => {
    expect(await client.headBlob(repo('acme/mounted'), image.layerDigest)).toBe(false);
    const logFrom = registry.log().length;

    expect(await client.mountBlob(repo(), repo('acme/mounted'), image.layerDigest)).toBe(true);

    expect(await client.headBlob(repo('acme/mounted'), image.layerDigest)).toBe(true);
    await waitForLog(registry, /"HEAD \/v2\/acme\/mounted\/blobs\//, logFrom);
    const writes = accessLog(registry.log().slice(logFrom)).filter(
      ({ method }) => method === 'POST' || method === 'PUT' || method === 'PATCH',
    );
    expect(writes).toEqual([
      {
        method: 'POST',
        path: `/v2/acme/mounted/blobs/uploads/?mount=${encodeURIComponent(image.layerDigest)}&from=acme%2Fapi`,
        status: 201,
      },
    ]);
  });

  test('a blob the source lacks is not mounted and the opened upload is cancelled', async () => {
    const missing = `sha256:${'2'.repeat(64)}`;
    const logFrom = registry.log().length;
    expect(await client.mountBlob(repo(), repo('acme/mounted'), missing)).toBe(false);
    await waitForLog(
      registry,
      /"DELETE \/v2\/acme\/mounted\/blobs\/uploads\/\S+ HTTP\/1.1" 204/,
      logFrom,
    );
  });

  test('no mount between registries, and no request', async () => {
    const before = client.requestCount;
    expect(await client.mountBlob('ghcr.io/acme/api', repo(), image.layerDigest)).toBe(false);
    expect(client.requestCount).toBe(before);
  });
});

describe('digest checks', () => {
  test('a manifest whose bytes do not match the announced digest is refused', async () => {
    const proxy = await startProxy(registry.host, async (request, self) => {
      const answer = await self.forward(request);
      if (!request.url.includes('/manifests/') || request.method !== 'GET') return answer;
      return { ...answer, body: Buffer.concat([answer.body as Buffer, Buffer.from(' ')]) };
    });
    proxies.push(proxy);
    const tampered = new RegistryClient({ credentials: anonymousCredentials });
    await expect(tampered.getManifest(`${proxy.host}/acme/api:v1`)).rejects.toThrow(
      `manifest digest mismatch: expected ${image.digest}`,
    );
    await expect(tampered.tagManifest(`${proxy.host}/acme/api:v1`, 'evil')).rejects.toThrow(
      /digest mismatch/,
    );
    expect(await client.headManifest(`${repo()}:evil`)).toBeUndefined();
  });
});
