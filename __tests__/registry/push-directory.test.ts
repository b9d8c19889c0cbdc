// pushDirectory: an image in containers/image's `dir:` layout (manifest.json, blobs named
// by hex digest, an index's images as `<hex>.manifest.json`), built by hand in a tmpdir and
// pushed to a real distribution registry (Debian's docker-registry 2.8) on 127.0.0.1 —
// directly, or through a proxy that drops connections and answers 5xx.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { ImageReference } from '../../src/core/types.js';
import { MEDIA_TYPES, RegistryClient } from '../../src/registry/client.js';
import { anonymousCredentials } from '../../src/registry/credentials.js';
import { BlobLocations, pushDirectory } from '../../src/registry/push-directory.js';
import type { RetryInfo } from '../../src/registry/transport.js';
import {
  type ProxyAction,
  type ProxyRequest,
  type TestProxy,
  type TestRegistry,
  accessLog,
  startProxy,
  startRegistry,
  waitForLog,
} from '../support/registry.js';

const sha256 = (bytes: Buffer): string =>
  `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
const hexOf = (digest: string): string => digest.slice('sha256:'.length);

let registry: TestRegistry;
let client: RegistryClient;
const proxies: TestProxy[] = [];
const dirs: string[] = [];

beforeAll(async () => {
  registry = await startRegistry();
  client = new RegistryClient({ credentials: anonymousCredentials });
});

afterAll(async () => {
  for (const proxy of proxies) await proxy.stop();
  await registry?.stop();
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

type Target = ImageReference & { tag: string };
const target = (path: string, tag = 'latest', host = registry.host): Target => ({
  registry: host,
  path,
  tag,
  explicitRegistry: true,
});

async function tmp(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'image-builder-push-dir-'));
  dirs.push(dir);
  return dir;
}

interface BuiltImage {
  manifest: Buffer;
  digest: string;
  config: Buffer;
  layers: Buffer[];
}

/** A gzipped "tar": `size` random bytes and the two zero blocks that end an archive. */
function layerOf(size: number): Buffer {
  return gzipSync(Buffer.concat([randomBytes(size), Buffer.alloc(1024)]));
}

/**
 * Writes an image's config and layers into `dir` as `<hex>` files and returns its Docker
 * v2s2 manifest (not written: the caller names it manifest.json or `<hex>.manifest.json`).
 */
async function writeImage(
  dir: string,
  options: { seed?: string; layers?: Buffer[]; architecture?: string } = {},
): Promise<BuiltImage> {
  const layers = options.layers ?? [layerOf(200)];
  const config = Buffer.from(
    JSON.stringify({
      architecture: options.architecture ?? 'amd64',
      os: 'linux',
      config: { Labels: { seed: options.seed ?? randomBytes(8).toString('hex') } },
      rootfs: { type: 'layers', diff_ids: layers.map((layer) => sha256(layer)) },
    }),
  );
  for (const blob of [config, ...layers]) await writeFile(join(dir, hexOf(sha256(blob))), blob);
  const manifest = Buffer.from(
    JSON.stringify(
      {
        schemaVersion: 2,
        mediaType: MEDIA_TYPES.dockerManifest,
        config: {
          mediaType: 'application/vnd.docker.container.image.v1+json',
          size: config.length,
          digest: sha256(config),
        },
        layers: layers.map((layer) => ({
          mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
          size: layer.length,
          digest: sha256(layer),
        })),
      },
      null,
      3, // like containers/image: any bytes, as long as they are pushed unchanged
    ),
  );
  return { manifest, digest: sha256(manifest), config, layers };
}

/** A single-image `dir:` layout. */
async function imageDir(options: Parameters<typeof writeImage>[1] = {}) {
  const dir = await tmp();
  const image = await writeImage(dir, options);
  await writeFile(join(dir, 'manifest.json'), image.manifest);
  await writeFile(join(dir, 'version'), 'Directory Transport Version: 1.1\n');
  return { dir, ...image };
}

/** GET or HEAD straight on the registry, without our client. */
async function direct(method: 'GET' | 'HEAD', path: string, accept?: string) {
  const response = await fetch(`http://${registry.host}${path}`, {
    method,
    headers: accept ? { Accept: accept } : {},
  });
  const body = Buffer.from(await response.arrayBuffer());
  return { status: response.status, headers: response.headers, body };
}

const ALL_MANIFESTS = [
  MEDIA_TYPES.dockerManifestList,
  MEDIA_TYPES.dockerManifest,
  MEDIA_TYPES.ociIndex,
  MEDIA_TYPES.ociManifest,
].join(', ');

/** Access log entries written since `from`, once the line matching `last` is in. */
async function logSince(from: number, last: RegExp) {
  await waitForLog(registry, last, from);
  return accessLog(registry.log().slice(from));
}

const isBlobWrite = (entry: { method: string; path: string }): boolean =>
  ['POST', 'PATCH', 'PUT'].includes(entry.method) && entry.path.includes('/blobs/uploads/');

describe('pushDirectory', () => {
  test('pushes an image byte for byte, and a second push uploads nothing', async () => {
    const image = await imageDir();
    const logFrom = registry.log().length;

    const result = await pushDirectory(client, image.dir, target('acme/plain', 'v1'));

    const blobBytes = image.config.length + (image.layers[0]?.length ?? 0);
    expect(result).toEqual({
      digest: image.digest,
      blobsUploaded: 2,
      blobsMounted: 0,
      blobsPresent: 0,
      bytesUploaded: blobBytes,
    });
    const head = await direct('HEAD', '/v2/acme/plain/manifests/v1', ALL_MANIFESTS);
    expect(head.status).toBe(200);
    expect(head.headers.get('docker-content-digest')).toBe(image.digest);
    const got = await direct('GET', '/v2/acme/plain/manifests/v1', ALL_MANIFESTS);
    expect(got.body.equals(image.manifest)).toBe(true);
    expect(got.headers.get('content-type')).toBe(MEDIA_TYPES.dockerManifest);
    for (const blob of [image.config, ...image.layers]) {
      const stored = await direct('GET', `/v2/acme/plain/blobs/${sha256(blob)}`);
      expect(stored.body.equals(blob)).toBe(true);
    }
    const first = await logSince(logFrom, /"PUT \/v2\/acme\/plain\/manifests\/v1 HTTP\/1.1" 201/);
    expect(first.filter(isBlobWrite).filter((entry) => entry.method === 'POST')).toHaveLength(2);

    const againFrom = registry.log().length;
    const again = await pushDirectory(client, image.dir, target('acme/plain', 'v1'));

    expect(again).toEqual({
      digest: image.digest,
      blobsUploaded: 0,
      blobsMounted: 0,
      blobsPresent: 2,
      bytesUploaded: 0,
    });
    const second = await logSince(
      againFrom,
      /"PUT \/v2\/acme\/plain\/manifests\/v1 HTTP\/1.1" 201/,
    );
    expect(second.filter(isBlobWrite)).toEqual([]);
    expect(
      second.filter((entry) => entry.method === 'HEAD' && entry.path.includes('/blobs/')),
    ).toHaveLength(2);
  });

  test('bytesUploaded adds up blobs uploaded side by side', async () => {
    // Two layers and a config in parallel: the count must be their sum, whatever finishes
    // first.
    const image = await imageDir({ layers: [layerOf(3000), layerOf(100)] });
    const result = await pushDirectory(client, image.dir, target('acme/sum'));
    expect(result.blobsUploaded).toBe(3);
    expect(result.bytesUploaded).toBe(
      [image.config, ...image.layers].reduce((sum, blob) => sum + blob.length, 0),
    );
  });

  test('blobs known elsewhere in the registry are mounted, not uploaded', async () => {
    const image = await imageDir();
    const locations = new BlobLocations();
    const first = await pushDirectory(client, image.dir, target('acme/a', 'v1'), { locations });
    expect(first).toMatchObject({ blobsUploaded: 2, blobsMounted: 0 });
    const logFrom = registry.log().length;

    const result = await pushDirectory(client, image.dir, target('acme/b', 'v1'), { locations });

    expect(result).toEqual({
      digest: image.digest,
      blobsUploaded: 0,
      blobsMounted: 2,
      blobsPresent: 0,
      bytesUploaded: 0,
    });
    const log = await logSince(logFrom, /"PUT \/v2\/acme\/b\/manifests\/v1 HTTP\/1.1" 201/);
    const writes = log.filter(isBlobWrite);
    expect(writes).toHaveLength(2);
    for (const blob of [image.config, ...image.layers]) {
      expect(writes).toContainEqual({
        method: 'POST',
        path: `/v2/acme/b/blobs/uploads/?mount=${encodeURIComponent(sha256(blob))}&from=acme%2Fa`,
        status: 201,
      });
    }
    expect(writes.filter((entry) => entry.method !== 'POST')).toEqual([]);
    const head = await direct('HEAD', '/v2/acme/b/manifests/v1', ALL_MANIFESTS);
    expect(head.headers.get('docker-content-digest')).toBe(image.digest);
    // Now recorded in b too: a third repository may mount from either.
    expect(locations.sourcesFor(sha256(image.config), target('acme/c')).map((r) => r.path)).toEqual(
      ['acme/a', 'acme/b'],
    );
  });

  test('a manifest list: both images by digest, the list under the tag byte for byte', async () => {
    const dir = await tmp();
    const shared = layerOf(300);
    const amd64 = await writeImage(dir, { layers: [shared, layerOf(100)], architecture: 'amd64' });
    const arm64 = await writeImage(dir, { layers: [shared], architecture: 'arm64' });
    for (const child of [amd64, arm64]) {
      await writeFile(join(dir, `${hexOf(child.digest)}.manifest.json`), child.manifest);
    }
    const list = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA_TYPES.dockerManifestList,
        manifests: [
          [amd64, 'amd64'],
          [arm64, 'arm64'],
        ].map(([child, architecture]) => ({
          mediaType: MEDIA_TYPES.dockerManifest,
          size: (child as BuiltImage).manifest.length,
          digest: (child as BuiltImage).digest,
          platform: { architecture, os: 'linux' },
        })),
      }),
    );
    await writeFile(join(dir, 'manifest.json'), list);

    const result = await pushDirectory(client, dir, target('acme/multi', 'v2'));

    expect(result).toEqual({
      digest: sha256(list),
      // amd64: config, shared, own layer; arm64: config (the shared layer is there already).
      blobsUploaded: 4,
      blobsMounted: 0,
      blobsPresent: 1,
      bytesUploaded: [amd64.config, ...amd64.layers, arm64.config].reduce(
        (sum, blob) => sum + blob.length,
        0,
      ),
    });
    const tagged = await direct('GET', '/v2/acme/multi/manifests/v2', ALL_MANIFESTS);
    expect(tagged.status).toBe(200);
    expect(tagged.body.equals(list)).toBe(true);
    expect(tagged.headers.get('content-type')).toBe(MEDIA_TYPES.dockerManifestList);
    expect(tagged.headers.get('docker-content-digest')).toBe(sha256(list));
    for (const child of [amd64, arm64]) {
      const got = await direct('GET', `/v2/acme/multi/manifests/${child.digest}`, ALL_MANIFESTS);
      expect(got.status).toBe(200);
      expect(got.body.equals(child.manifest)).toBe(true);
      expect(got.headers.get('content-type')).toBe(MEDIA_TYPES.dockerManifest);
      for (const blob of [child.config, ...child.layers]) {
        expect((await direct('HEAD', `/v2/acme/multi/blobs/${sha256(blob)}`)).status).toBe(200);
      }
    }
  });

  test('a blob larger than chunkSize is streamed from its file in the closing PUT', async () => {
    const image = await imageDir({ layers: [layerOf(5000)] });
    const layer = image.layers[0] as Buffer;
    expect(layer.length).toBeGreaterThan(5000);
    expect(image.config.length).toBeLessThan(1000);
    const logFrom = registry.log().length;

    const result = await pushDirectory(client, image.dir, target('acme/streamed'), {
      chunkSize: 1000,
    });

    expect(result).toMatchObject({ digest: image.digest, blobsUploaded: 2 });
    expect(result.bytesUploaded).toBe(layer.length + image.config.length);
    const log = await logSince(logFrom, /"PUT \/v2\/acme\/streamed\/manifests\/latest /);
    // No PATCH: some registries (ECR) keep only a session's first chunk.
    expect(log.filter((entry) => entry.method === 'PATCH')).toEqual([]);
    const puts = log.filter((entry) => entry.method === 'PUT' && isBlobWrite(entry));
    expect(puts.map((entry) => entry.status)).toEqual([201, 201]);
    const stored = await direct('GET', `/v2/acme/streamed/blobs/${sha256(layer)}`);
    expect(stored.body.equals(layer)).toBe(true);
  });

  test.each([
    [
      'the same size',
      (blob: Buffer) => Buffer.from(blob.map((byte) => byte ^ 0xff)),
      (digest: string) => new RegExp(`has digest sha256:[0-9a-f]{64}, not ${digest}$`),
    ],
    [
      'another size',
      (blob: Buffer) => Buffer.concat([blob, Buffer.from('x')]),
      () => /has \d+ bytes, the manifest says \d+$/,
    ],
  ])(
    'a blob file with other bytes (%s) is refused and nothing is tagged',
    async (_, alter, says) => {
      const image = await imageDir({ layers: [layerOf(2000)] });
      const layer = image.layers[0] as Buffer;
      const file = join(image.dir, hexOf(sha256(layer)));
      await writeFile(file, alter(layer));
      const logFrom = registry.log().length;

      // Whole (one PUT) and in chunks (the digest is known only after the last PATCH).
      for (const chunkSize of [undefined, 500]) {
        const error = await pushDirectory(client, image.dir, target('acme/bad', 'v1'), {
          ...(chunkSize ? { chunkSize } : {}),
        }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(Error);
        expect((error as Error).message.startsWith(`${file} `)).toBe(true);
        expect((error as Error).message).toMatch(says(sha256(layer)));
      }

      expect((await direct('HEAD', '/v2/acme/bad/manifests/v1', ALL_MANIFESTS)).status).toBe(404);
      expect((await direct('HEAD', `/v2/acme/bad/blobs/${sha256(layer)}`)).status).toBe(404);
      const log = await logSince(logFrom, /"HEAD \/v2\/acme\/bad\/blobs\/\S+ HTTP\/1.1" 404/);
      // No manifest PUT was tried; no PUT stored the layer under its digest.
      expect(
        log.filter((entry) => entry.method === 'PUT' && entry.path.includes('/manifests/')),
      ).toEqual([]);
      expect(
        log.filter(
          (entry) =>
            entry.method === 'PUT' && entry.path.includes(encodeURIComponent(sha256(layer))),
        ),
      ).toEqual([]);
    },
  );

  test('a missing manifest.json is a clear error, before any request', async () => {
    const dir = await tmp();
    const before = client.requestCount;
    await expect(pushDirectory(client, dir, target('acme/none'))).rejects.toThrow(
      join(dir, 'manifest.json'),
    );
    expect(client.requestCount).toBe(before);
  });

  test('a missing blob file is named, and nothing is tagged', async () => {
    const image = await imageDir();
    const layerFile = join(image.dir, hexOf(sha256(image.layers[0] as Buffer)));
    await rm(layerFile);
    await expect(pushDirectory(client, image.dir, target('acme/gone', 'v1'))).rejects.toThrow(
      layerFile,
    );
    expect((await direct('HEAD', '/v2/acme/gone/manifests/v1', ALL_MANIFESTS)).status).toBe(404);
  });
});

describe('pushDirectory through faults', () => {
  function clientFor(): { faulty: RegistryClient; retries: RetryInfo[] } {
    const retries: RetryInfo[] = [];
    const faulty = new RegistryClient({
      credentials: anonymousCredentials,
      retry: { attempts: 4, sleep: async () => {}, random: () => 0.5 },
      onRetry: (info) => retries.push(info),
    });
    return { faulty, retries };
  }

  /** A proxy that applies `fault` to the first `times` requests `matches` selects. */
  async function faultProxy(
    matches: (request: ProxyRequest) => boolean,
    fault: (request: ProxyRequest, proxy: TestProxy) => ProxyAction | Promise<ProxyAction>,
    times = 1,
  ): Promise<TestProxy & { faults: () => number }> {
    let faults = 0;
    const proxy = await startProxy(registry.host, (request, self) => {
      if (faults >= times || !matches(request)) return 'forward';
      faults++;
      return fault(request, self);
    });
    proxies.push(proxy);
    return Object.assign(proxy, { faults: () => faults });
  }

  const isStreamedPut = (request: ProxyRequest): boolean =>
    request.method === 'PUT' &&
    request.url.includes('/blobs/uploads/') &&
    request.body.length > 1000;
  const isClosingPut = (request: ProxyRequest): boolean =>
    request.method === 'PUT' && request.url.includes('/blobs/uploads/');
  const uploadStarts = (proxy: TestProxy): number =>
    proxy.requests.filter(
      (request) => request.method === 'POST' && request.url.includes('/blobs/uploads/'),
    ).length;

  /** The tag's manifest and every blob, read straight from the registry. */
  async function expectPushed(path: string, image: BuiltImage): Promise<void> {
    const got = await direct('GET', `/v2/${path}/manifests/latest`, ALL_MANIFESTS);
    expect(got.status).toBe(200);
    expect(got.body.equals(image.manifest)).toBe(true);
    expect(got.headers.get('docker-content-digest')).toBe(image.digest);
    for (const blob of [image.config, ...image.layers]) {
      const stored = await direct('GET', `/v2/${path}/blobs/${sha256(blob)}`);
      expect(stored.status).toBe(200);
      expect(stored.body.equals(blob)).toBe(true);
    }
  }

  test('a streamed PUT dropped before the registry saw it is streamed again', async () => {
    const image = await imageDir({ layers: [layerOf(3000)] });
    const proxy = await faultProxy(isStreamedPut, () => 'destroy');
    const { faulty, retries } = clientFor();

    const result = await pushDirectory(
      faulty,
      image.dir,
      target('faults/stream', 'latest', proxy.host),
      { chunkSize: 1000 },
    );

    expect(result).toMatchObject({ digest: image.digest, blobsUploaded: 2 });
    expect(proxy.faults()).toBe(1);
    expect(retries.map((info) => info.method)).toEqual(['PUT']);
    expect(uploadStarts(proxy)).toBe(2); // the same session carried on
    // The retry sent the whole file again, from its start.
    const layer = image.layers[0] as Buffer;
    const sent = proxy.requests.filter(isStreamedPut);
    expect(sent.map((request) => request.body.equals(layer))).toEqual([true, true]);
    // With its length announced, as S3-backed registries need, not chunked.
    expect(sent.map((request) => request.headers['content-length'])).toEqual([
      String(layer.length),
      String(layer.length),
    ]);
    expect(sent.map((request) => request.headers['transfer-encoding'])).toEqual([
      undefined,
      undefined,
    ]);
    await expectPushed('faults/stream', image);
  });

  test('a streamed PUT the registry stored but whose answer was lost ends as present', async () => {
    const image = await imageDir({ layers: [layerOf(3000)] });
    // The registry stores the blob; the client sees the connection drop and sends it again
    // to a session that is closed, which the registry refuses: the next try finds the blob.
    const proxy = await faultProxy(isStreamedPut, async (request, self): Promise<ProxyAction> => {
      await self.forward(request);
      return 'destroy';
    });
    const { faulty } = clientFor();

    const result = await pushDirectory(
      faulty,
      image.dir,
      target('faults/lost', 'latest', proxy.host),
      { chunkSize: 1000 },
    );

    expect(result).toMatchObject({ digest: image.digest, blobsUploaded: 1, blobsPresent: 1 });
    await expectPushed('faults/lost', image);
  });

  test('a closing PUT dropped before the registry saw it is sent again', async () => {
    const image = await imageDir();
    const proxy = await faultProxy(isClosingPut, () => 'destroy');
    const { faulty, retries } = clientFor();

    const result = await pushDirectory(
      faulty,
      image.dir,
      target('faults/put', 'latest', proxy.host),
    );

    expect(result).toMatchObject({ digest: image.digest, blobsUploaded: 2, blobsPresent: 0 });
    expect(retries.map((info) => info.method)).toEqual(['PUT']);
    expect(uploadStarts(proxy)).toBe(2);
    await expectPushed('faults/put', image);
  });

  test('a closing PUT that stored the blob but answered 500 ends as present', async () => {
    const image = await imageDir();
    const layerDigest = sha256(image.layers[0] as Buffer);
    const proxy = await faultProxy(
      (request) => isClosingPut(request) && request.url.includes(encodeURIComponent(layerDigest)),
      async (request, self) => {
        await self.forward(request);
        return { status: 500, body: '' };
      },
    );
    const { faulty } = clientFor();

    const result = await pushDirectory(
      faulty,
      image.dir,
      target('faults/stored', 'latest', proxy.host),
    );

    // The retried PUT finds the session closed; the next try asks first and finds the blob.
    expect(result).toMatchObject({
      digest: image.digest,
      blobsUploaded: 1,
      blobsPresent: 1,
      bytesUploaded: image.config.length,
    });
    expect(uploadStarts(proxy)).toBe(2);
    await expectPushed('faults/stored', image);
  });

  test.each([500, 503])('%i answers on a few requests are retried', async (status) => {
    const image = await imageDir({ layers: [layerOf(2500)] });
    // The first three requests after the ping (the blob HEADs, an upload start), the first
    // streamed PUT, and — dropped — the first closing PUT of the config.
    let early = 0;
    let streamed = false;
    let closed = false;
    const proxy = await startProxy(registry.host, (request) => {
      if (request.url === '/v2/') return 'forward';
      if (early < 3) {
        early++;
        return { status, body: '' };
      }
      if (isStreamedPut(request) && !streamed) {
        streamed = true;
        return { status, body: '' };
      }
      if (isClosingPut(request) && !isStreamedPut(request) && !closed) {
        closed = true;
        return 'destroy';
      }
      return 'forward';
    });
    proxies.push(proxy);
    const { faulty, retries } = clientFor();

    const result = await pushDirectory(
      faulty,
      image.dir,
      target('faults/5xx', 'latest', proxy.host),
      {
        chunkSize: 1000,
      },
    );

    expect(result).toMatchObject({ digest: image.digest, blobsUploaded: 2, blobsPresent: 0 });
    expect(streamed && closed).toBe(true);
    expect(retries.filter((info) => info.status === status)).toHaveLength(4);
    expect(retries.filter((info) => info.status === undefined)).toHaveLength(1);
    await expectPushed('faults/5xx', image);
  });

  test('a blob that keeps failing gives up after blobAttempts fresh sessions', async () => {
    const image = await imageDir();
    const layerDigest = sha256(image.layers[0] as Buffer);
    // Every closing PUT of the layer is refused (a 400 is not retried by the transport).
    const proxy = await faultProxy(
      (request) => isClosingPut(request) && request.url.includes(encodeURIComponent(layerDigest)),
      () => ({
        status: 400,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ errors: [{ code: 'BLOB_UPLOAD_INVALID', message: 'nope' }] }),
      }),
      Infinity,
    );
    const { faulty } = clientFor();

    await expect(
      pushDirectory(faulty, image.dir, target('faults/never', 'latest', proxy.host), {
        blobAttempts: 2,
      }),
    ).rejects.toThrow(/400 BLOB_UPLOAD_INVALID/);
    expect(proxy.faults()).toBe(2);
    expect((await direct('HEAD', '/v2/faults/never/manifests/latest', ALL_MANIFESTS)).status).toBe(
      404,
    );
  });
});
