// Promotion to another registry, against two real distribution registries on 127.0.0.1:
// only the blobs the target lacks are copied, through a file in bounded chunks; indexes are copied whole.
import { createHash, randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { parseReference } from '../../src/core/reference.js';
import { createLimit } from '../../src/core/limit.js';
import { copyBlob } from '../../src/promote/copy.js';
import { manifestContent } from '../../src/registry/manifest-content.js';
import { promoteImages } from '../../src/promote/promote.js';
import { pushScope } from '../../src/registry/auth.js';
import { MEDIA_TYPES, RegistryClient } from '../../src/registry/client.js';
import { anonymousCredentials } from '../../src/registry/credentials.js';
import { RegistryError } from '../../src/registry/errors.js';
import { type CountingProxy, startCountingProxy } from '../support/counting-proxy.js';
import {
  type TestRegistry,
  pushTestImage,
  startProxy,
  startRegistry,
} from '../support/registry.js';

const sha256 = (bytes: Buffer): string =>
  `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

let source: TestRegistry;
let target: TestRegistry;
/** Counting proxies in front of each registry: every request goes through one. */
let from: CountingProxy;
let to: CountingProxy;
let client: RegistryClient;
const log = (): void => undefined;
const src = (path: string): string => `${from.host}/${path}`;
const dst = (path: string): string => `${to.host}/${path}`;

beforeAll(async () => {
  [source, target] = await Promise.all([startRegistry(), startRegistry()]);
  [from, to] = await Promise.all([
    startCountingProxy(source.host),
    startCountingProxy(target.host),
  ]);
  client = new RegistryClient({ credentials: anonymousCredentials });
});

afterAll(async () => {
  await Promise.all([from?.stop(), to?.stop()]);
  await Promise.all([source?.stop(), target?.stop()]);
});

/** Uploads a blob monolithically (POST, PUT ?digest=). */
async function pushBlob(repository: string, blob: Buffer): Promise<string> {
  const ref = parseReference(repository);
  const started = await client.transport.request({
    method: 'POST',
    registry: ref.registry,
    path: `/v2/${ref.path}/blobs/uploads/`,
    scopes: [pushScope(ref.path)],
  });
  const location = new URL(started.headers.get('location') ?? '', started.url);
  location.searchParams.set('digest', sha256(blob));
  const done = await client.transport.request({
    method: 'PUT',
    registry: ref.registry,
    path: location.toString(),
    scopes: [pushScope(ref.path)],
    headers: { 'Content-Type': 'application/octet-stream' },
    body: blob,
  });
  if (done.status !== 201) throw new Error(`blob upload: ${done.status}`);
  return sha256(blob);
}

/** An image whose one layer is `size` random bytes, gzipped (so about as large). */
async function pushLargeImage(repository: string, tag: string, size: number) {
  const tar = randomBytes(size);
  const layer = gzipSync(tar, { level: 0 });
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: [sha256(tar)] },
    }),
  );
  await pushBlob(repository, config);
  await pushBlob(repository, layer);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociManifest,
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: sha256(config),
        size: config.length,
      },
      layers: [
        {
          mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
          digest: sha256(layer),
          size: layer.length,
        },
      ],
    }),
  );
  const digest = await client.putManifest(repository, tag, manifest, MEDIA_TYPES.ociManifest);
  return { digest, layer, layerDigest: sha256(layer), config };
}

describe('to another registry', () => {
  test('copies the blobs once; another tag of the same image or a sibling copies only what is missing', async () => {
    const api = await pushTestImage(client, src('team/api'), 'staging', { seed: 'api' });
    await client.putManifest(src('team/api'), 'v2', api.manifest, api.mediaType);
    to.reset();

    const [first] = await promoteImages({
      client,
      items: [
        { image: 'api', source: `${src('team/api')}:staging`, targets: [dst('team/api:release')] },
      ],
      log,
    });
    const config = await client.getBlob(src('team/api'), api.configDigest);
    const layer = await client.getBlob(src('team/api'), api.layerDigest);
    expect(first?.targets[0]).toEqual({
      ref: dst('team/api:release'),
      action: 'copied',
      blobsMounted: 0,
      blobsCopied: 2,
      bytesCopied: config.length + layer.length,
    });
    expect(to.uploadedBytes()).toBe(config.length + layer.length);
    const copied = await client.getManifest(dst('team/api:release'));
    expect(copied.digest).toBe(api.digest);
    expect(copied.bytes.equals(api.manifest)).toBe(true);

    // Another tag of the same image: the manifest is there by digest, only the tag moves.
    to.reset();
    const [second] = await promoteImages({
      client,
      items: [{ image: 'api', source: `${src('team/api')}:v2`, targets: [dst('team/api:v2')] }],
      log,
    });
    expect(second?.targets[0]).toMatchObject({
      action: 'retagged',
      blobsCopied: 0,
      bytesCopied: 0,
    });
    expect(to.blobUploads()).toEqual([]);
    expect(to.work().filter((r) => r.url.includes('/blobs/'))).toEqual([]);
    expect(await client.headManifest(dst('team/api:v2'))).toMatchObject({ digest: api.digest });

    // A sibling image sharing the layer: only its config travels.
    const next = await pushTestImage(client, src('team/api'), 'next', { seed: 'api-next' });
    to.reset();
    const [third] = await promoteImages({
      client,
      items: [{ image: 'api', source: `${src('team/api')}:next`, targets: [dst('team/api:next')] }],
      log,
    });
    expect(third?.targets[0]).toMatchObject({ action: 'copied', blobsCopied: 1 });
    expect(to.uploadedBytes()).toBe(
      (await client.getBlob(src('team/api'), next.configDigest)).length,
    );
    expect(await client.headManifest(dst('team/api:next'))).toMatchObject({ digest: next.digest });
  });

  test('a manifest list (OCI index) with two children is copied whole', async () => {
    const children = [
      await pushTestImage(client, src('team/multi'), 'amd64', { seed: 'multi-a', format: 'oci' }),
      await pushTestImage(client, src('team/multi'), 'arm64', { seed: 'multi-b', format: 'oci' }),
    ];
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA_TYPES.dockerManifestList,
        manifests: children.map((child, i) => ({
          mediaType: MEDIA_TYPES.ociManifest,
          digest: child.digest,
          size: child.manifest.length,
          platform: { os: 'linux', architecture: i === 0 ? 'amd64' : 'arm64' },
        })),
      }),
    );
    const digest = await client.putManifest(
      src('team/multi'),
      'staging',
      index,
      MEDIA_TYPES.dockerManifestList,
    );
    to.reset();

    const [result] = await promoteImages({
      client,
      items: [
        {
          image: 'multi',
          source: `${src('team/multi')}:staging`,
          targets: [dst('prod/multi:release'), dst('prod/multi:latest')],
        },
      ],
      log,
    });

    expect(result?.digest).toBe(digest);
    // Two configs and the layer both children share, which travels once.
    expect(result?.targets.map((t) => [t.action, t.blobsCopied])).toEqual([
      ['copied', 3],
      ['retagged', 0],
    ]);
    for (const tag of ['release', 'latest']) {
      const copied = await client.getManifest(dst(`prod/multi:${tag}`));
      expect(copied.bytes.equals(index)).toBe(true);
      expect(copied.mediaType).toBe(MEDIA_TYPES.dockerManifestList);
    }
    for (const child of children) {
      expect(await client.headManifest(`${dst('prod/multi')}@${child.digest}`)).toMatchObject({
        digest: child.digest,
      });
      expect(await client.headBlob(dst('prod/multi'), child.configDigest)).toBe(true);
    }
    const layerUploads = to
      .work()
      .filter(
        (r) => r.method === 'PUT' && r.url.includes(encodeURIComponent(children[0]!.layerDigest)),
      );
    expect(layerUploads).toHaveLength(1);
  });

  test('a large layer comes down in ranged GETs and goes up in one streamed PUT', async () => {
    const image = await pushLargeImage(src('team/big'), 'staging', 300_000);
    from.reset();
    to.reset();
    const [result] = await promoteImages({
      client,
      items: [
        { image: 'big', source: `${src('team/big')}:staging`, targets: [dst('team/big:release')] },
      ],
      log,
      chunkSize: 64 * 1024,
    });
    expect(result?.targets[0]).toMatchObject({
      action: 'copied',
      blobsCopied: 2,
      bytesCopied: image.layer.length + image.config.length,
    });
    const chunks = Math.ceil(image.layer.length / (64 * 1024));
    // No PATCH: some registries (ECR) keep only a session's first chunk.
    expect(to.requests.filter((r) => r.method === 'PATCH')).toEqual([]);
    const layerPuts = to.requests.filter(
      (r) => r.method === 'PUT' && r.url.includes(encodeURIComponent(image.layerDigest)),
    );
    expect(layerPuts.map((r) => [r.status, r.bytesIn])).toEqual([[201, image.layer.length]]);
    expect(
      from.requests.filter(
        (r) => r.method === 'GET' && r.url.includes(image.layerDigest) && r.status === 206,
      ),
    ).toHaveLength(chunks);
    expect(await client.getBlob(dst('team/big'), image.layerDigest)).toEqual(image.layer);
    expect(await client.headManifest(dst('team/big:release'))).toMatchObject({
      digest: image.digest,
    });
  });
});

describe('copyBlob', () => {
  test('a registry that ignores Range still gets its blob copied', async () => {
    const image = await pushLargeImage(src('range/none'), 'v1', 150_000);
    const noRange = await startProxy(source.host, (request, self) => {
      const headers = { ...request.headers };
      delete headers.range;
      return self.forward({ ...request, headers });
    });
    try {
      to.reset();
      const bytes = await copyBlob(
        client,
        parseReference(`${noRange.host}/range/none`),
        parseReference(dst('range/none')),
        { digest: image.layerDigest, size: image.layer.length },
        { chunkSize: 50_000 },
      );
      expect(bytes).toBe(image.layer.length);
      expect(noRange.requests.filter((r) => r.method === 'GET' && r.url !== '/v2/')).toHaveLength(
        1,
      );
      expect(to.requests.filter((r) => r.method === 'PATCH')).toEqual([]);
      expect(await client.getBlob(dst('range/none'), image.layerDigest)).toEqual(image.layer);
    } finally {
      await noRange.stop();
    }
  });

  test('a corrupted source is caught before any upload starts', async () => {
    const image = await pushLargeImage(src('range/bad'), 'v1', 100_000);
    const corrupting = await startProxy(source.host, async (request, self) => {
      const answer = await self.forward(request);
      if (request.method !== 'GET' || answer.status !== 206 || !Buffer.isBuffer(answer.body))
        return answer;
      const body = Buffer.from(answer.body);
      body[0] = (body[0] ?? 0) ^ 0xff;
      return { ...answer, body };
    });
    try {
      to.reset();
      const error = await copyBlob(
        client,
        parseReference(`${corrupting.host}/range/bad`),
        parseReference(dst('range/bad')),
        { digest: image.layerDigest, size: image.layer.length },
        { chunkSize: 40_000 },
      ).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RegistryError);
      expect((error as Error).message).toMatch(/blob digest mismatch: got sha256:/);
      expect(to.work().filter((r) => r.url.includes('/blobs/uploads/'))).toEqual([]);
      expect(await client.headBlob(dst('range/bad'), image.layerDigest)).toBe(false);
    } finally {
      await corrupting.stop();
    }
  });
});

describe('manifestContent', () => {
  test.each([
    {
      name: 'an image: config then layers, deduplicated, foreign layers left out',
      mediaType: MEDIA_TYPES.dockerManifest,
      body: {
        schemaVersion: 2,
        config: { digest: 'sha256:c', size: 1 },
        layers: [
          { digest: 'sha256:a', size: 2 },
          { digest: 'sha256:a', size: 2 },
          {
            digest: 'sha256:f',
            size: 3,
            mediaType: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
            urls: ['https://x'],
          },
        ],
      },
      expected: {
        kind: 'image',
        blobs: [
          { digest: 'sha256:c', size: 1 },
          { digest: 'sha256:a', size: 2 },
        ],
      },
    },
    {
      name: 'an index: its manifests',
      mediaType: MEDIA_TYPES.ociIndex,
      body: {
        schemaVersion: 2,
        manifests: [{ digest: 'sha256:m', size: 9, mediaType: MEDIA_TYPES.ociManifest }],
      },
      expected: {
        kind: 'index',
        manifests: [{ digest: 'sha256:m', size: 9, mediaType: MEDIA_TYPES.ociManifest }],
      },
    },
  ])('$name', ({ mediaType, body, expected }) => {
    expect(manifestContent({ bytes: Buffer.from(JSON.stringify(body)), mediaType })).toEqual(
      expected,
    );
  });

  test('schema 1 is refused', () => {
    expect(() =>
      manifestContent({
        bytes: Buffer.from('{"schemaVersion":1}'),
        mediaType: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
      }),
    ).toThrow('schema 1 manifests cannot be promoted to another repository');
  });
});

test('createLimit never runs more than its limit at once', async () => {
  const limit = createLimit(3);
  let running = 0;
  let peak = 0;
  await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      limit(async () => {
        running++;
        peak = Math.max(peak, running);
        await new Promise((resolve) => setTimeout(resolve, i % 3));
        running--;
      }),
    ),
  );
  expect(peak).toBe(3);
});
