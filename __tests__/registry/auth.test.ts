// Authentication against the real registry: htpasswd Basic auth, and `auth: token` with a
// token server signing ES256 JWTs that the registry checks against a test certificate.
import { RegistryClient } from '../../src/registry/client.js';
import {
  anonymousCredentials,
  dockerConfigCredentials,
  staticCredentials,
} from '../../src/registry/credentials.js';
import { RegistryError } from '../../src/registry/errors.js';
import {
  type PushedImage,
  type TestRegistry,
  pushTestImage,
  startRegistry,
} from '../support/registry.js';
import { type TokenServer, libtrustKeyId, startTokenServer } from '../support/token-server.js';

const stops: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const stop of stops.reverse()) await stop();
});

async function registryWithTokens(
  options: Parameters<typeof startTokenServer>[0],
): Promise<{ registry: TestRegistry; tokens: TokenServer }> {
  const tokens = await startTokenServer(options);
  stops.push(() => tokens.stop());
  const registry = await startRegistry({ tokenAuth: tokens.registryAuth });
  stops.push(() => registry.stop());
  return { registry, tokens };
}

describe('Basic auth', () => {
  const username = 'ci-user';
  const password = 'pw-Very-Secret-123';
  let registry: TestRegistry;
  let client: RegistryClient;
  let image: PushedImage;

  beforeAll(async () => {
    registry = await startRegistry({ basicAuth: { username, password } });
    stops.push(() => registry.stop());
    client = new RegistryClient({
      credentials: staticCredentials({ [registry.host]: { username, password } }),
    });
    image = await pushTestImage(client, `${registry.host}/acme/api`, 'v1');
  });

  test('with credentials: a retag costs one GET and one PUT once the registry is pinged', async () => {
    const before = client.requestCount;
    expect(await client.tagManifest(`${registry.host}/acme/api:v1`, 'stable')).toBe(image.digest);
    expect(client.requestCount - before).toBe(2);
  });

  test('credentials from a Docker config (auth as base64 user:password)', async () => {
    const auth = Buffer.from(`${username}:${password}`).toString('base64');
    const fromConfig = new RegistryClient({
      credentials: dockerConfigCredentials({ config: { auths: { [registry.host]: { auth } } } }),
    });
    expect(await fromConfig.headManifest(`${registry.host}/acme/api:v1`)).toMatchObject({
      digest: image.digest,
    });
    // ping (401 Basic challenge), then the HEAD with credentials
    expect(fromConfig.requestCount).toBe(2);
  });

  test('without credentials: RegistryError 401 UNAUTHORIZED', async () => {
    const anonymous = new RegistryClient({ credentials: anonymousCredentials });
    const error = await anonymous
      .getManifest(`${registry.host}/acme/api:v1`)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryError);
    expect(error).toMatchObject({ status: 401, code: 'UNAUTHORIZED', method: 'GET' });
    expect((error as Error).message).toBe(
      `GET http://${registry.host}/v2/acme/api/manifests/v1: 401 UNAUTHORIZED: authentication required`,
    );
  });

  test('a wrong password is refused, and no password shows in errors, retries or logs', async () => {
    const wrong = 'wrong-Secret-456';
    const retries: unknown[] = [];
    const bad = new RegistryClient({
      credentials: staticCredentials({ [registry.host]: { username, password: wrong } }),
      onRetry: (info) => retries.push(info),
    });
    const error = await bad.getManifest(`${registry.host}/acme/api:v1`).catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 401, code: 'UNAUTHORIZED' });
    const shown = [
      (error as Error).message,
      (error as RegistryError).url,
      (error as Error).stack ?? '',
      JSON.stringify(error),
      JSON.stringify(retries),
      registry.log(),
    ].join('\n');
    for (const secret of [password, wrong]) {
      expect(shown).not.toContain(secret);
      expect(shown).not.toContain(Buffer.from(`${username}:${secret}`).toString('base64'));
    }
  });
});

describe('Bearer tokens (auth: token)', () => {
  const users = { 'ci-user': 'token-Secret-789' };

  test('kid has the shape of a libtrust fingerprint', () => {
    // 240 bits → 48 base32 characters → twelve groups of four. That the registry accepts
    // the kid tokens below is what proves the value.
    expect(libtrustKeyId(Buffer.from('x'))).toMatch(/^([A-Z2-7]{4}:){11}[A-Z2-7]{4}$/);
  });

  test('tokens are fetched per scope and cached; a retag then costs GET + PUT', async () => {
    const { registry, tokens } = await registryWithTokens({ users });
    const client = new RegistryClient({
      credentials: staticCredentials({
        [registry.host]: { username: 'ci-user', password: users['ci-user'] },
      }),
    });
    const image = await pushTestImage(client, `${registry.host}/acme/api`, 'v1');
    // ping + one token for pull,push + POST/PUT ×2 + manifest PUT
    expect(client.requestCount).toBe(1 + 1 + 4 + 1);
    expect(tokens.requests).toEqual([
      {
        method: 'GET',
        service: 'test-registry',
        scopes: ['repository:acme/api:pull,push'],
        user: 'ci-user',
        authorization: true,
      },
    ]);

    const before = client.requestCount;
    expect(await client.tagManifest(`${registry.host}/acme/api:v1`, 'stable')).toBe(image.digest);
    expect(client.requestCount - before).toBe(2);
    // A pull needs less than the cached pull,push token grants: no new token.
    expect(await client.headManifest(`${registry.host}/acme/api:stable`)).toMatchObject({
      digest: image.digest,
    });
    expect(tokens.requests).toHaveLength(1);

    // Another repository is another scope: one more token, then cached too.
    expect(await client.headManifest(`${registry.host}/acme/other:v1`)).toBeUndefined();
    expect(await client.headManifest(`${registry.host}/acme/other:v2`)).toBeUndefined();
    expect(tokens.requests.map((request) => request.scopes)).toEqual([
      ['repository:acme/api:pull,push'],
      ['repository:acme/other:pull'],
    ]);

    // A mount asks for push on the target and pull on the source, in one token.
    expect(
      await client.mountBlob(
        `${registry.host}/acme/api`,
        `${registry.host}/acme/copy`,
        image.layerDigest,
      ),
    ).toBe(true);
    expect(tokens.requests[2]?.scopes).toEqual([
      'repository:acme/api:pull',
      'repository:acme/copy:pull,push',
    ]);
  });

  test('parallel requests share one ping and one token request', async () => {
    const { registry, tokens } = await registryWithTokens({ users });
    const client = new RegistryClient({
      credentials: staticCredentials({
        [registry.host]: { username: 'ci-user', password: users['ci-user'] },
      }),
    });
    const tags = ['a', 'b', 'c', 'd'];
    const found = await Promise.all(
      tags.map((tag) => client.headManifest(`${registry.host}/acme/api:${tag}`)),
    );
    expect(found).toEqual([undefined, undefined, undefined, undefined]);
    expect(tokens.requests).toHaveLength(1);
    expect(client.requestCount).toBe(1 + 1 + tags.length);
  });

  test('a token is renewed when it nears expires_in', async () => {
    const { registry, tokens } = await registryWithTokens({ users, expiresIn: 30 });
    let clock = Date.now();
    const client = new RegistryClient({
      credentials: staticCredentials({
        [registry.host]: { username: 'ci-user', password: users['ci-user'] },
      }),
      now: () => clock,
    });
    await client.headManifest(`${registry.host}/acme/api:v1`);
    clock += 15_000;
    await client.headManifest(`${registry.host}/acme/api:v1`);
    expect(tokens.requests).toHaveLength(1);
    clock += 10_000; // 25 s: within the 10 s margin of the 30 s lifetime
    await client.headManifest(`${registry.host}/acme/api:v1`);
    expect(tokens.requests).toHaveLength(2);
  });

  test('a refused token is replaced once (x5c header, access_token field)', async () => {
    const { registry, tokens } = await registryWithTokens({
      users,
      keyHeader: 'x5c',
      field: 'access_token',
      expiredTokens: 1,
    });
    const client = new RegistryClient({
      credentials: staticCredentials({
        [registry.host]: { username: 'ci-user', password: users['ci-user'] },
      }),
    });
    const image = await pushTestImage(client, `${registry.host}/acme/api`, 'v1');
    expect(await client.headManifest(`${registry.host}/acme/api:v1`)).toMatchObject({
      digest: image.digest,
    });
    // the expired one, then its replacement, which serves everything after
    expect(tokens.requests).toHaveLength(2);
  });

  test('an identity token is exchanged with the OAuth2 refresh-token grant', async () => {
    const { registry, tokens } = await registryWithTokens({
      users,
      refreshTokens: { 'refresh-abc': 'ci-user' },
    });
    const client = new RegistryClient({
      credentials: staticCredentials({ [registry.host]: { token: 'refresh-abc' } }),
    });
    await pushTestImage(client, `${registry.host}/acme/api`, 'v1');
    expect(tokens.requests).toEqual([
      {
        method: 'POST',
        grantType: 'refresh_token',
        service: 'test-registry',
        scopes: ['repository:acme/api:pull,push'],
        user: 'ci-user',
        authorization: false,
      },
    ]);
  });

  test('anonymous callers get an empty token and a 401 UNAUTHORIZED, after one retry', async () => {
    const { registry, tokens } = await registryWithTokens({ users });
    const client = new RegistryClient({ credentials: anonymousCredentials });
    const error = await client.getManifest(`${registry.host}/acme/api:v1`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryError);
    expect(error).toMatchObject({ status: 401, code: 'UNAUTHORIZED' });
    expect(tokens.requests.map((request) => request.authorization)).toEqual([false, false]);
    // ping, token, GET (401), token, GET (401)
    expect(client.requestCount).toBe(5);
  });

  test('a wrong password fails at the token server, without the password in the message', async () => {
    const { registry } = await registryWithTokens({ users });
    const client = new RegistryClient({
      credentials: staticCredentials({
        [registry.host]: { username: 'ci-user', password: 'nope-Secret' },
      }),
    });
    const error = await client
      .headManifest(`${registry.host}/acme/api:v1`)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryError);
    expect(error).toMatchObject({ status: 401, method: 'GET' });
    expect((error as Error).message).toMatch(
      /^GET http:\/\/127\.0\.0\.1:\d+\/token\?service=test-registry&scope=repository%3Aacme%2Fapi%3Apull: 401 ERROR: invalid username or password$/,
    );
    expect((error as Error).message).not.toContain('nope-Secret');
  });
});
