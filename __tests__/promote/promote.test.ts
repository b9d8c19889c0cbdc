// promoteImages against a real distribution registry (Debian's docker-registry) on
// 127.0.0.1: retags within a repository, mounts into other repositories, all-or-nothing
// resolution, error context, and a registry behind Basic auth.
import { createHash } from 'node:crypto';
import { PromotionError, promoteImages } from '../../src/promote/promote.js';
import { MEDIA_TYPES, RegistryClient } from '../../src/registry/client.js';
import { StaticCredentialStore, anonymousCredentials } from '../../src/registry/credentials.js';
import { RegistryError } from '../../src/registry/errors.js';
import { type CountingProxy, startCountingProxy } from '../support/counting-proxy.js';
import {
  type PushedImage,
  type TestRegistry,
  accessLog,
  pushTestImage,
  startProxy,
  startRegistry,
  waitForLog,
} from '../support/registry.js';
import { startTokenServer } from '../support/token-server.js';

let registry: TestRegistry;
let proxy: CountingProxy;
let client: RegistryClient;
const lines: string[] = [];
const log = (line: string): void => void lines.push(line);
/** A repository reached through the counting proxy. */
const repo = (path: string): string => `${proxy.host}/${path}`;

beforeAll(async () => {
  registry = await startRegistry();
  proxy = await startCountingProxy(registry.host);
  client = new RegistryClient({ credentials: anonymousCredentials });
});

afterAll(async () => {
  await proxy?.stop();
  await registry?.stop();
});

beforeEach(() => {
  lines.length = 0;
});

/** An OCI index over two single-platform images pushed to `repository`. */
async function pushIndex(
  target: RegistryClient,
  repository: string,
  tag: string,
): Promise<{ digest: string; children: PushedImage[] }> {
  const children = [
    await pushTestImage(target, repository, `${tag}-amd64`, { seed: `${tag}-a`, format: 'oci' }),
    await pushTestImage(target, repository, `${tag}-arm64`, { seed: `${tag}-b`, format: 'oci' }),
  ];
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociIndex,
      manifests: children.map((child, i) => ({
        mediaType: child.mediaType,
        digest: child.digest,
        size: child.manifest.length,
        platform: { os: 'linux', architecture: i === 0 ? 'amd64' : 'arm64' },
      })),
    }),
  );
  const digest = await target.putManifest(repository, tag, index, MEDIA_TYPES.ociIndex);
  return { digest, children };
}

describe('within a repository', () => {
  test('20 images, staging to release and latest: one GET per image, one PUT per tag, no blob', async () => {
    const pushed = new Map<string, PushedImage>();
    for (let i = 0; i < 20; i++) {
      const name = `svc-${String(i).padStart(2, '0')}`;
      pushed.set(
        name,
        await pushTestImage(client, repo(`team/${name}`), 'staging', { seed: name }),
      );
    }
    const items = [...pushed.keys()].map((name) => ({
      image: name,
      source: `${repo(`team/${name}`)}:staging`,
      targets: [`${repo(`team/${name}`)}:release`, `${repo(`team/${name}`)}:latest`],
    }));
    proxy.reset();
    const before = client.requestCount;

    const results = await promoteImages({ client, items, log });

    const requests = proxy.work();
    expect(
      requests.filter((r) => r.method === 'GET' && r.url.includes('/manifests/')),
    ).toHaveLength(20);
    expect(
      requests.filter((r) => r.method === 'PUT' && r.url.includes('/manifests/')),
    ).toHaveLength(40);
    expect(requests.length).toBeLessThanOrEqual(2 * 40);
    expect(requests).toHaveLength(60);
    expect(client.requestCount - before).toBe(60);
    expect(requests.filter((r) => r.url.includes('/blobs/'))).toEqual([]);
    expect(proxy.blobUploads()).toEqual([]);

    for (const result of results) {
      const image = pushed.get(result.image) as PushedImage;
      expect(result.digest).toBe(image.digest);
      expect(
        result.targets.map((t) => [t.action, t.blobsMounted, t.blobsCopied, t.bytesCopied]),
      ).toEqual([
        ['retagged', 0, 0, 0],
        ['retagged', 0, 0, 0],
      ]);
      for (const tag of ['release', 'latest']) {
        const stored = await client.getManifest(`${repo(`team/${result.image}`)}:${tag}`);
        expect(stored.digest).toBe(image.digest);
        expect(stored.bytes.equals(image.manifest)).toBe(true);
      }
    }
    expect(lines).toHaveLength(40);
    expect(lines[0]).toMatch(/^svc-00:staging -> release: retagged sha256:[0-9a-f]{12}$/);
  });

  test('an OCI index is retagged as is, by one GET and one PUT', async () => {
    const { digest } = await pushIndex(client, repo('team/multi'), 'staging');
    proxy.reset();
    const [result] = await promoteImages({
      client,
      items: [
        {
          image: 'multi',
          source: `${repo('team/multi')}:staging`,
          targets: [`${repo('team/multi')}:release`],
        },
      ],
      log,
    });
    expect(result?.digest).toBe(digest);
    expect(proxy.work().map((r) => `${r.method} ${r.url}`)).toEqual([
      'GET /v2/team/multi/manifests/staging',
      'PUT /v2/team/multi/manifests/release',
    ]);
    expect(await client.headManifest(`${repo('team/multi')}:release`)).toMatchObject({
      digest,
      mediaType: MEDIA_TYPES.ociIndex,
    });
  });

  test('a source by digest, and the source tag itself as a target (unchanged, not written)', async () => {
    const image = await pushTestImage(client, repo('team/pinned'), 'staging', { seed: 'pinned' });
    proxy.reset();
    const [result] = await promoteImages({
      client,
      items: [
        {
          image: 'pinned',
          source: `${repo('team/pinned')}@${image.digest}`,
          targets: [`${repo('team/pinned')}:latest`, `${repo('team/pinned')}@${image.digest}`],
        },
        {
          image: 'again',
          source: `${repo('team/pinned')}:staging`,
          targets: [`${repo('team/pinned')}:staging`],
        },
      ],
      log,
    });
    expect(result?.targets.map((t) => t.action)).toEqual(['retagged', 'unchanged']);
    expect(
      proxy
        .work()
        .map((r) => `${r.method} ${r.url}`)
        .sort(),
    ).toEqual([
      `GET /v2/team/pinned/manifests/${image.digest}`,
      'GET /v2/team/pinned/manifests/staging',
      'PUT /v2/team/pinned/manifests/latest',
    ]);
    expect(lines).toContain(
      `pinned:${image.digest} -> latest: retagged ${image.digest.slice(0, 19)}`,
    );
  });
});

describe('into another repository of the same registry', () => {
  test('every blob is mounted, then the manifest is put; zero blob bytes uploaded', async () => {
    const image = await pushTestImage(client, repo('team/api'), 'staging', { seed: 'api' });
    proxy.reset();
    const logFrom = registry.log().length;

    const [result] = await promoteImages({
      client,
      items: [
        {
          image: 'api',
          source: `${repo('team/api')}:staging`,
          targets: [
            `${repo('prod/api')}:release`,
            `${repo('prod/api')}:latest`,
            `${repo('team/api')}:rc`,
          ],
        },
      ],
      log,
    });

    expect(result?.digest).toBe(image.digest);
    expect(result?.targets).toEqual([
      {
        ref: `${repo('prod/api')}:release`,
        action: 'mounted',
        blobsMounted: 2,
        blobsCopied: 0,
        bytesCopied: 0,
      },
      {
        ref: `${repo('prod/api')}:latest`,
        action: 'retagged',
        blobsMounted: 0,
        blobsCopied: 0,
        bytesCopied: 0,
      },
      {
        ref: `${repo('team/api')}:rc`,
        action: 'retagged',
        blobsMounted: 0,
        blobsCopied: 0,
        bytesCopied: 0,
      },
    ]);
    expect(proxy.blobUploads()).toEqual([]);
    expect(proxy.uploadedBytes()).toBe(0);
    await waitForLog(registry, /"PUT \/v2\/prod\/api\/manifests\/latest /, logFrom);
    const mounts = accessLog(registry.log().slice(logFrom)).filter(
      ({ method, path }) => method === 'POST' && path.includes('mount='),
    );
    expect(
      mounts
        .map(({ path, status }) => [new URL(path, 'http://x').searchParams.get('mount'), status])
        .sort(),
    ).toEqual(
      [
        [image.configDigest, 201],
        [image.layerDigest, 201],
      ].sort(),
    );
    for (const tag of ['release', 'latest']) {
      expect(await client.headManifest(`${repo('prod/api')}:${tag}`)).toMatchObject({
        digest: image.digest,
      });
    }
    expect(lines).toContain(
      `api:staging -> ${repo('prod/api')}:release: mounted (2 blobs mounted, 0 copied, 0 bytes) ${image.digest.slice(0, 19)}`,
    );

    // Once more: both tags already name the digest, so nothing is written.
    proxy.reset();
    const [again] = await promoteImages({
      client,
      items: [
        {
          image: 'api',
          source: `${repo('team/api')}:staging`,
          targets: [`${repo('prod/api')}:release`, `${repo('prod/api')}:latest`],
        },
      ],
      log,
    });
    expect(again?.targets.map((t) => t.action)).toEqual(['unchanged', 'unchanged']);
    expect(proxy.work().filter((r) => r.method !== 'GET' && r.method !== 'HEAD')).toEqual([]);
  });

  test('an index: each child gets its blobs mounted and is put by digest, then the index', async () => {
    const { digest, children } = await pushIndex(client, repo('team/multi-src'), 'staging');
    proxy.reset();
    const [result] = await promoteImages({
      client,
      items: [
        {
          image: 'multi',
          source: `${repo('team/multi-src')}:staging`,
          targets: [`${repo('prod/multi')}:release`],
        },
      ],
      log,
    });
    expect(result?.digest).toBe(digest);
    // Two configs and the one layer both children share (mounted once).
    expect(result?.targets[0]).toMatchObject({
      action: 'mounted',
      blobsMounted: 3,
      blobsCopied: 0,
    });
    expect(proxy.blobUploads()).toEqual([]);
    for (const child of children) {
      const stored = await client.getManifest(`${repo('prod/multi')}@${child.digest}`);
      expect(stored.bytes.equals(child.manifest)).toBe(true);
    }
    expect(await client.headManifest(`${repo('prod/multi')}:release`)).toMatchObject({
      digest,
      mediaType: MEDIA_TYPES.ociIndex,
    });
    const puts = proxy
      .work()
      .filter((r) => r.method === 'PUT')
      .map((r) => r.url);
    expect(puts.at(-1)).toBe('/v2/prod/multi/manifests/release');
    expect(puts.slice(0, 2).sort()).toEqual(
      children.map((c) => `/v2/prod/multi/manifests/${c.digest}`).sort(),
    );
  });

  test('when the registry opens an upload instead of mounting, the blob is copied', async () => {
    const image = await pushTestImage(client, repo('team/nomount'), 'staging', { seed: 'nomount' });
    // A registry that does not mount: the proxy drops the mount parameters.
    const noMount = await startProxy(registry.host, (request, self) =>
      request.url.includes('mount=')
        ? self.forward({ ...request, url: request.url.replace(/\?.*$/, '') })
        : 'forward',
    );
    try {
      const at = (path: string): string => `${noMount.host}/${path}`;
      const [result] = await promoteImages({
        client,
        items: [
          {
            image: 'nomount',
            source: `${at('team/nomount')}:staging`,
            targets: [`${at('prod/nomount')}:release`],
          },
        ],
        log,
      });
      const parsed = JSON.parse(image.manifest.toString('utf8')) as {
        config: { size: number };
        layers: { size: number }[];
      };
      const bytes = parsed.config.size + (parsed.layers[0]?.size ?? 0);
      expect(result?.targets[0]).toEqual({
        ref: `${at('prod/nomount')}:release`,
        action: 'copied',
        blobsMounted: 0,
        blobsCopied: 2,
        bytesCopied: bytes,
      });
      expect(await client.headManifest(`${at('prod/nomount')}:release`)).toMatchObject({
        digest: image.digest,
      });
      // The upload sessions the refused mounts opened were cancelled.
      expect(noMount.requests.filter((r) => r.method === 'DELETE')).toHaveLength(2);
    } finally {
      await noMount.stop();
    }
  });
});

describe('all or nothing', () => {
  test('missing sources among several: one error naming each, and no tag written', async () => {
    for (const name of ['one', 'two', 'three']) {
      await pushTestImage(client, repo(`aon/${name}`), 'staging', { seed: name });
    }
    const items = ['one', 'gone', 'two', 'three', 'lost'].map((name) => ({
      image: name,
      source: `${repo(`aon/${name}`)}:${name === 'lost' ? 'nope' : 'staging'}`,
      targets: [`${repo(`aon/${name}`)}:release`, `${repo(`aon-prod/${name}`)}:release`],
    }));
    await pushTestImage(client, repo('aon/lost'), 'staging', { seed: 'lost' }); // another tag
    proxy.reset();

    const error = await promoteImages({ client, items, log }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(PromotionError);
    expect((error as PromotionError).message).toBe(
      `nothing was promoted: 2 sources do not exist: gone (${repo('aon/gone')}:staging), lost (${repo('aon/lost')}:nope)`,
    );
    expect((error as PromotionError).missing).toEqual([
      `${repo('aon/gone')}:staging`,
      `${repo('aon/lost')}:nope`,
    ]);
    expect(proxy.work().filter((r) => r.method !== 'GET')).toEqual([]);
    for (const name of ['one', 'two', 'three']) {
      expect(await client.headManifest(`${repo(`aon/${name}`)}:release`)).toBeUndefined();
      expect(await client.headManifest(`${repo(`aon-prod/${name}`)}:release`)).toBeUndefined();
    }
    expect(lines).toEqual([]);
  });

  test('a target written by two different sources is refused before any request', async () => {
    proxy.reset();
    const run = promoteImages({
      client,
      items: [
        { image: 'a', source: `${repo('x/a')}:staging`, targets: [`${repo('x/shared')}:latest`] },
        { image: 'b', source: `${repo('x/b')}:staging`, targets: [`${repo('x/shared')}:latest`] },
      ],
      log,
    });
    await expect(run).rejects.toThrow(
      `${repo('x/shared')}:latest is the target of both ${repo('x/a')}:staging and ${repo('x/b')}:staging`,
    );
    expect(proxy.requests).toEqual([]);
  });

  test('a target pinned to another digest than the source is refused before any write', async () => {
    const image = await pushTestImage(client, repo('pin/api'), 'staging', { seed: 'pin' });
    const other = `sha256:${'0'.repeat(64)}`;
    proxy.reset();
    const error = await promoteImages({
      client,
      items: [
        {
          image: 'api',
          source: `${repo('pin/api')}:staging`,
          targets: [`${repo('pin/api')}:release`, `${repo('pin-prod/api')}:release@${other}`],
        },
      ],
      log,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PromotionError);
    expect((error as Error).message).toBe(
      `promoting api:staging to ${repo('pin-prod/api')}:release@${other}: the source is ${image.digest}, not ${other}; nothing was promoted`,
    );
    expect(proxy.work().map((r) => r.method)).toEqual(['GET']);
  });

  test('an invalid target is a NameError with context, before any request', async () => {
    proxy.reset();
    await expect(
      promoteImages({
        client,
        items: [
          {
            image: 'api',
            source: `${repo('team/api')}:staging`,
            targets: [`${repo('team/api')}:bad tag`],
          },
        ],
        log,
      }),
    ).rejects.toThrow(/^promoting api:staging to .*:bad tag: invalid image reference/);
    expect(proxy.requests).toEqual([]);
  });
});

describe('errors carry their context', () => {
  test('a refused PUT: promoting api:staging to release: PUT …: 403 DENIED', async () => {
    const image = await pushTestImage(client, repo('ctx/api'), 'staging', { seed: 'ctx' });
    const denying = await startProxy(registry.host, (request) =>
      request.method === 'PUT' && request.url.endsWith('/manifests/release')
        ? {
            status: 403,
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ errors: [{ code: 'DENIED', message: 'tag is immutable' }] }),
          }
        : 'forward',
    );
    try {
      const error = await promoteImages({
        client,
        items: [
          {
            image: 'api',
            source: `${denying.host}/ctx/api:staging`,
            targets: [`${denying.host}/ctx/api:release`],
          },
        ],
        log,
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RegistryError);
      expect((error as Error).message).toBe(
        `promoting api:staging to release: PUT http://${denying.host}/v2/ctx/api/manifests/release: 403 DENIED: tag is immutable`,
      );
      expect(image.digest).toMatch(/^sha256:/);
    } finally {
      await denying.stop();
    }
  });

  test('a registry that stores another digest than the source is an error', async () => {
    await pushTestImage(client, repo('ctx/web'), 'staging', { seed: 'ctx-web' });
    const wrong = `sha256:${createHash('sha256').update('other').digest('hex')}`;
    const lying = await startProxy(registry.host, async (request, self) => {
      const answer = await self.forward(request);
      if (request.method !== 'PUT' || !request.url.includes('/manifests/')) return answer;
      return { ...answer, headers: { ...answer.headers, 'docker-content-digest': wrong } };
    });
    try {
      await expect(
        promoteImages({
          client,
          items: [
            {
              image: 'web',
              source: `${lying.host}/ctx/web:staging`,
              targets: [`${lying.host}/ctx/web:release`],
            },
          ],
          log,
        }),
      ).rejects.toThrow(
        new RegExp(
          `^promoting web:staging to release: PUT .*/ctx/web/manifests/release: the registry stored ${wrong}, expected sha256:[0-9a-f]{64} \\(the digest of the bytes sent\\)$`,
        ),
      );
    } finally {
      await lying.stop();
    }
  });
});

describe('a registry behind Basic auth', () => {
  let secured: TestRegistry;
  let securedProxy: CountingProxy;
  let authed: RegistryClient;

  beforeAll(async () => {
    secured = await startRegistry({ basicAuth: { username: 'ci', password: 's3cret' } });
    securedProxy = await startCountingProxy(secured.host);
    authed = new RegistryClient({
      credentials: new StaticCredentialStore({
        [securedProxy.host]: { username: 'ci', password: 's3cret' },
      }),
    });
  });

  afterAll(async () => {
    await securedProxy?.stop();
    await secured?.stop();
  });

  test('retags and mounts just the same, two requests per tag at most after authentication', async () => {
    const at = (path: string): string => `${securedProxy.host}/${path}`;
    const images = [];
    for (const name of ['a', 'b', 'c']) {
      images.push(
        await pushTestImage(authed, at(`team/${name}`), 'staging', { seed: `basic-${name}` }),
      );
    }
    securedProxy.reset();
    const results = await promoteImages({
      client: authed,
      items: ['a', 'b', 'c'].map((name) => ({
        image: name,
        source: `${at(`team/${name}`)}:staging`,
        targets: [`${at(`team/${name}`)}:release`, `${at(`team/${name}`)}:latest`],
      })),
      log,
    });
    expect(results.map((r) => r.digest)).toEqual(images.map((i) => i.digest));
    expect(securedProxy.work()).toHaveLength(3 + 6);
    expect(securedProxy.work().every((r) => r.status === 200 || r.status === 201)).toBe(true);

    const [mounted] = await promoteImages({
      client: authed,
      items: [
        { image: 'a', source: `${at('team/a')}:staging`, targets: [`${at('prod/a')}:release`] },
      ],
      log,
    });
    expect(mounted?.targets[0]).toMatchObject({
      action: 'mounted',
      blobsMounted: 2,
      blobsCopied: 0,
    });
    expect(securedProxy.blobUploads()).toEqual([]);
    expect(await authed.headManifest(`${at('prod/a')}:release`)).toMatchObject({
      digest: images[0]?.digest,
    });
  });

  test('without credentials the promotion fails with the registry status, and writes nothing', async () => {
    const anonymous = new RegistryClient({ credentials: anonymousCredentials });
    const error = await promoteImages({
      client: anonymous,
      items: [
        {
          image: 'a',
          source: `${securedProxy.host}/team/a:staging`,
          targets: [`${securedProxy.host}/team/a:other`],
        },
      ],
      log,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryError);
    expect((error as Error).message).toMatch(
      /^reading a:staging; nothing was promoted: GET .*: 401/,
    );
  });
});

describe('a registry with token auth', () => {
  test('same figures: requests per tag stay at the floor; tokens are the only extra', async () => {
    const tokens = await startTokenServer({ users: { ci: 'tok3n' } });
    const secured = await startRegistry({ tokenAuth: tokens.registryAuth });
    const counted = await startCountingProxy(secured.host);
    try {
      const at = (path: string): string => `${counted.host}/${path}`;
      const authed = new RegistryClient({
        credentials: new StaticCredentialStore({
          [counted.host]: { username: 'ci', password: 'tok3n' },
        }),
      });
      const images = [];
      for (const name of ['a', 'b']) {
        images.push(
          await pushTestImage(authed, at(`team/${name}`), 'staging', { seed: `tok-${name}` }),
        );
      }
      counted.reset();
      const tokensBefore = tokens.requests.length;
      const results = await promoteImages({
        client: authed,
        items: ['a', 'b'].map((name) => ({
          image: name,
          source: `${at(`team/${name}`)}:staging`,
          targets: [
            `${at(`team/${name}`)}:release`,
            `${at(`team/${name}`)}:latest`,
            `${at(`prod/${name}`)}:release`,
          ],
        })),
        log,
      });
      expect(results.map((r) => r.digest)).toEqual(images.map((i) => i.digest));
      expect(results.map((r) => r.targets.map((t) => t.action))).toEqual([
        ['retagged', 'retagged', 'mounted'],
        ['retagged', 'retagged', 'mounted'],
      ]);
      // Only the HEADs of tags and digests not yet in prod/ answer 404: no 401 round trips.
      expect(counted.work().filter((r) => r.status >= 400 && r.method !== 'HEAD')).toEqual([]);
      expect(counted.blobUploads()).toEqual([]);
      // Per image: GET, 2 PUTs within the repository; HEAD tag, HEAD digest, 2 mounts, PUT.
      expect(counted.work()).toHaveLength(2 * (3 + 5));
      // team/<name> tokens are cached from the push; per image a pull token for prod's HEADs
      // and one for the mounts (push on prod, pull on team) that serves prod's PUT too.
      expect(
        tokens.requests
          .slice(tokensBefore)
          .map((r) => r.scopes.join(' '))
          .sort(),
      ).toEqual([
        'repository:prod/a:pull',
        'repository:prod/a:pull,push repository:team/a:pull',
        'repository:prod/b:pull',
        'repository:prod/b:pull,push repository:team/b:pull',
      ]);
    } finally {
      await counted.stop();
      await secured.stop();
      await tokens.stop();
    }
  });
});
