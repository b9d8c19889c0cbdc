// ECR registry credentials: real SDK clients against the fake AWS server, whose token opens a
// real docker-registry (htpasswd, user AWS) that RegistryClient pushes to and reads from
// under an ECR host name.
import { randomBytes } from 'node:crypto';
import { RegistryClient } from '../../src/registry/client.js';
import { writeAuthFile } from '../../src/registry/credentials.js';
import {
  AwsError,
  type EcrCredentialStore,
  ecrClients,
  ecrCredentials,
} from '../../src/registry/ecr.js';
import { type FakeAws, TEST_CREDENTIALS, startFakeAws } from '../support/fake-aws.js';
import { type TestRegistry, accessLog, pushTestImage, startRegistry } from '../support/registry.js';
import { readFile } from 'node:fs/promises';

const ECR_HOST = '123456789012.dkr.ecr.eu-west-1.amazonaws.com';
const password = randomBytes(24).toString('base64url');

let fake: FakeAws;
let registry: TestRegistry;
const stores: EcrCredentialStore[] = [];
const factories: { destroy(): void }[] = [];

beforeAll(async () => {
  [fake, registry] = await Promise.all([
    startFakeAws({ password }),
    startRegistry({ basicAuth: { username: 'AWS', password } }),
  ]);
});

afterAll(async () => {
  for (const store of stores) store.destroy();
  for (const factory of factories) factory.destroy();
  await Promise.all([fake?.stop(), registry?.stop()]);
});

beforeEach(() => {
  fake.requests.length = 0;
});

function store(options: Parameters<typeof ecrCredentials>[0] = {}): EcrCredentialStore {
  const clientFor = ecrClients({ endpoint: fake.endpoint, credentials: TEST_CREDENTIALS });
  factories.push(clientFor);
  const made = ecrCredentials({
    clientFor,
    publicClientConfig: { endpoint: fake.endpoint, credentials: TEST_CREDENTIALS },
    ...options,
  });
  stores.push(made);
  return made;
}

/**
 * fetch that sends `https://<ECR host>` to the local registry, telling it (X-Forwarded-*)
 * the name it is reached by, so its Location headers name the ECR host too.
 */
function routeTo(target: string, host: string): typeof fetch {
  return (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const headers = new Headers(init?.headers);
    headers.set('X-Forwarded-Proto', 'https');
    headers.set('X-Forwarded-Host', host);
    return fetch(url.replace(`https://${host}`, `http://${target}`), { ...init, headers });
  };
}

test('the token is fetched once per region, cached, and shared by concurrent requests', async () => {
  const credentials = store();
  const answers = await Promise.all([
    credentials.get(ECR_HOST),
    credentials.get(ECR_HOST),
    credentials.get(`https://${ECR_HOST}/v2/`),
    // Another account in the same region: the same token serves it.
    credentials.get('210987654321.dkr.ecr.eu-west-1.amazonaws.com'),
  ]);
  for (const answer of answers) expect(answer).toEqual({ username: 'AWS', password });
  expect(await credentials.get(ECR_HOST)).toEqual({ username: 'AWS', password });
  const calls = fake.calls('ecr', 'GetAuthorizationToken');
  expect(calls.map((call) => [call.signedRegion, call.signedService, call.body])).toEqual([
    ['eu-west-1', 'ecr', {}],
  ]);

  // Another region: its own client, its own token, signed for that region.
  await credentials.get('123456789012.dkr.ecr.us-east-2.amazonaws.com');
  expect(fake.calls('ecr', 'GetAuthorizationToken').map((call) => call.signedRegion)).toEqual([
    'eu-west-1',
    'us-east-2',
  ]);

  // Not ECR: no answer, no call.
  expect(await credentials.get('ghcr.io')).toBeUndefined();
  expect(await credentials.get('127.0.0.1:5000')).toBeUndefined();
  expect(fake.requests).toHaveLength(2);
});

test('a token is fetched again only shortly before it expires', async () => {
  let clock = Date.now();
  const credentials = store({ now: () => clock, refreshMarginMs: 15 * 60_000 });
  const count = (): number => fake.calls('ecr', 'GetAuthorizationToken').length;
  await credentials.get(ECR_HOST);
  expect(count()).toBe(1);
  clock += 11 * 3600_000; // 1 h left of 12
  await credentials.get(ECR_HOST);
  expect(count()).toBe(1);
  clock += 46 * 60_000; // 14 minutes left: inside the margin
  await credentials.get(ECR_HOST);
  expect(count()).toBe(2);
  await credentials.get(ECR_HOST);
  expect(count()).toBe(2);
});

test('every new secret is handed to mask, the token in both forms', async () => {
  const masked: string[] = [];
  const credentials = store({ mask: (secret) => masked.push(secret) });
  await credentials.get(ECR_HOST);
  await credentials.get(ECR_HOST);
  expect(masked).toEqual([password, Buffer.from(`AWS:${password}`).toString('base64')]);
});

test('RegistryClient pushes and reads through ECR credentials against a real registry', async () => {
  const credentials = store();
  const client = new RegistryClient({ credentials, fetch: routeTo(registry.host, ECR_HOST) });
  const image = await pushTestImage(client, `${ECR_HOST}/team/api`, 'v1');
  expect(await client.headManifest(`${ECR_HOST}/team/api:v1`)).toEqual({
    digest: image.digest,
    mediaType: image.mediaType,
    size: image.manifest.length,
  });
  expect(await client.tagManifest(`${ECR_HOST}/team/api:v1`, 'release')).toBe(image.digest);

  // A second client (another build step) uses the cached token: still one AWS call.
  const second = new RegistryClient({ credentials, fetch: routeTo(registry.host, ECR_HOST) });
  expect((await second.getManifest(`${ECR_HOST}/team/api:release`)).digest).toBe(image.digest);
  expect(fake.calls('ecr', 'GetAuthorizationToken')).toHaveLength(1);

  // The registry really checked the password: wrong credentials are refused.
  const log = accessLog(registry.log());
  expect(log.some((entry) => entry.method === 'PUT' && entry.status === 201)).toBe(true);
  const intruder = new RegistryClient({
    credentials: { get: async () => ({ username: 'AWS', password: 'wrong' }) },
    fetch: routeTo(registry.host, ECR_HOST),
  });
  await expect(intruder.headManifest(`${ECR_HOST}/team/api:v1`)).rejects.toMatchObject({
    status: 401,
  });
});

test('the credential goes into the builders’ auth file as base64 AWS:<password>', async () => {
  const credential = await store().get(ECR_HOST);
  if (!credential || !('username' in credential)) throw new Error('expected a password');
  const file = await writeAuthFile({ [ECR_HOST]: credential });
  try {
    const config = JSON.parse(await readFile(file.path, 'utf8')) as {
      auths: Record<string, { auth: string }>;
    };
    expect(Buffer.from(config.auths[ECR_HOST]?.auth ?? '', 'base64').toString()).toBe(
      `AWS:${password}`,
    );
  } finally {
    await file.remove();
  }
});

test('ECR Public: the token request is always signed for us-east-1', async () => {
  const credentials = store({
    // Even a region given by mistake is overridden.
    publicClientConfig: {
      endpoint: fake.endpoint,
      credentials: TEST_CREDENTIALS,
      ...({ region: 'eu-west-1' } as object),
    },
  });
  expect(await credentials.get('public.ecr.aws')).toEqual({ username: 'AWS', password });
  expect(await credentials.get('https://public.ecr.aws/v2/')).toEqual({
    username: 'AWS',
    password,
  });
  const calls = fake.calls('ecr-public');
  expect(calls.map((call) => [call.operation, call.signedRegion, call.signedService])).toEqual([
    ['GetAuthorizationToken', 'us-east-1', 'ecr-public'],
  ]);
  expect(calls[0]?.headers['x-amz-target']).toBe('SpencerFrontendService.GetAuthorizationToken');
  expect(fake.calls('ecr')).toHaveLength(0);
});

test('throttling that outlasts the SDK retries says so; a failure is not cached', async () => {
  const clientFor = ecrClients({
    endpoint: fake.endpoint,
    credentials: TEST_CREDENTIALS,
    maxAttempts: 2,
  });
  factories.push(clientFor);
  const credentials = ecrCredentials({ clientFor });
  stores.push(credentials);
  fake.fail('ecr', 'GetAuthorizationToken', {
    type: 'ThrottlingException',
    message: 'Rate exceeded',
    times: 2,
  });
  const error = await credentials.get(ECR_HOST).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(AwsError);
  expect((error as AwsError).message).toBe(
    `cannot get a registry token for ${ECR_HOST} (region eu-west-1): AWS throttled ecr:GetAuthorizationToken (ThrottlingException: Rate exceeded) and it still failed after 2 attempts with the SDK's backoff. Try again later, or run fewer jobs against this account at the same time.`,
  );
  expect(fake.calls('ecr', 'GetAuthorizationToken')).toHaveLength(2);
  // The next ask goes to AWS again, and now gets through.
  expect(await credentials.get(ECR_HOST)).toEqual({ username: 'AWS', password });
  expect(fake.calls('ecr', 'GetAuthorizationToken')).toHaveLength(3);
});
