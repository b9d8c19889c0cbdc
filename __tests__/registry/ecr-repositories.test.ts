// The repository check before a push: real ECR / ECR Public SDK clients against the fake
// AWS server, asserting the exact calls.
import { ECRPUBLICClient } from '@aws-sdk/client-ecr-public';
import { ConfigError } from '../../src/core/errors.js';
import { type EcrClientFactory, ecrClients } from '../../src/registry/ecr.js';
import { ecrPublicClient } from '../../src/registry/ecr-public.js';
import { MissingRepositoriesError, checkRepositories } from '../../src/registry/repositories.js';
import { type FakeAws, TEST_CREDENTIALS, startFakeAws } from '../support/fake-aws.js';

const EU = '123456789012.dkr.ecr.eu-west-1.amazonaws.com';
const US = '123456789012.dkr.ecr.us-east-2.amazonaws.com';
const OTHER = '111122223333.dkr.ecr.eu-west-1.amazonaws.com';

let fake: FakeAws;
let clientFor: EcrClientFactory;
let publicClient: ECRPUBLICClient;

beforeEach(async () => {
  fake = await startFakeAws({ pageSize: 60 });
  clientFor = ecrClients({ endpoint: fake.endpoint, credentials: TEST_CREDENTIALS });
  publicClient = ecrPublicClient({ endpoint: fake.endpoint, credentials: TEST_CREDENTIALS });
});

afterEach(async () => {
  clientFor.destroy();
  publicClient.destroy();
  await fake.stop();
});

/** Operation, signed region and body of every request. */
const calls = () => fake.requests.map((r) => [r.operation, r.signedRegion, r.body]);

test('all present: one DescribeRepositories per registry, 100 names a batch', async () => {
  const names = Array.from({ length: 120 }, (_, i) => `svc/app-${String(i).padStart(3, '0')}`);
  for (const name of names) fake.addRepository(name);
  fake.addRepository('base', { registryId: '111122223333' });

  const result = await checkRepositories({
    repositories: [
      ...names.map((name) => `${EU}/${name}:v1`),
      `${OTHER}/base@sha256:${'0'.repeat(64)}`,
    ],
    create: false,
    clientFor,
    publicClient,
  });
  expect(result).toEqual({
    existing: [...names.map((name) => `${EU}/${name}`), `${OTHER}/base`],
    missing: [],
    created: [],
    skipped: [],
  });
  expect(calls()).toEqual([
    [
      'DescribeRepositories',
      'eu-west-1',
      { registryId: '123456789012', repositoryNames: names.slice(0, 100) },
    ],
    [
      'DescribeRepositories',
      'eu-west-1',
      { registryId: '123456789012', repositoryNames: names.slice(100) },
    ],
    [
      'DescribeRepositories',
      'eu-west-1',
      { registryId: '111122223333', repositoryNames: ['base'] },
    ],
  ]);
});

test('missing ones: the registry is listed once, and ONE error names every missing repository', async () => {
  const names = Array.from({ length: 150 }, (_, i) => `svc/app-${String(i).padStart(3, '0')}`);
  const absent = new Set(['svc/app-007', 'svc/app-120']);
  for (const name of names) if (!absent.has(name)) fake.addRepository(name);

  const error = await checkRepositories({
    repositories: [
      ...names.map((name) => `${EU}/${name}`),
      `${US}/tools`,
      'ghcr.io/acme/api',
      `${EU}/svc/app-007:again`,
    ],
    create: false,
    settings: { tagMutability: 'IMMUTABLE', scanOnPush: true },
    clientFor,
    publicClient,
  }).catch((e: unknown) => e);

  expect(error).toBeInstanceOf(MissingRepositoriesError);
  expect((error as MissingRepositoriesError).missing).toEqual([
    `${EU}/svc/app-007`,
    `${EU}/svc/app-120`,
    `${US}/tools`,
  ]);
  expect((error as Error).message).toBe(
    [
      '3 ECR repositories do not exist:',
      `  - ${EU}/svc/app-007`,
      `  - ${EU}/svc/app-120`,
      `  - ${US}/tools`,
      'Set `ecr.create-repositories: true` in image-builder.yml to have them created (needs ecr:CreateRepository), or create them, e.g.',
      '  aws ecr create-repository --repository-name svc/app-007 --region eu-west-1 --image-tag-mutability IMMUTABLE --image-scanning-configuration scanOnPush=true',
      '  aws ecr create-repository --repository-name svc/app-120 --region eu-west-1 --image-tag-mutability IMMUTABLE --image-scanning-configuration scanOnPush=true',
      '  aws ecr create-repository --repository-name tools --region us-east-2 --image-tag-mutability IMMUTABLE --image-scanning-configuration scanOnPush=true',
    ].join('\n'),
  );
  const list = (nextToken?: string) => [
    'DescribeRepositories',
    'eu-west-1',
    { registryId: '123456789012', maxResults: 1000, ...(nextToken ? { nextToken } : {}) },
  ];
  expect(calls()).toEqual([
    [
      'DescribeRepositories',
      'eu-west-1',
      { registryId: '123456789012', repositoryNames: names.slice(0, 100) },
    ],
    // 148 repositories, 60 a page (AWS may give fewer than asked).
    list(),
    list('60'),
    list('120'),
    [
      'DescribeRepositories',
      'eu-west-1',
      { registryId: '123456789012', repositoryNames: names.slice(100) },
    ],
    [
      'DescribeRepositories',
      'us-east-2',
      { registryId: '123456789012', repositoryNames: ['tools'] },
    ],
    ['DescribeRepositories', 'us-east-2', { registryId: '123456789012', maxResults: 1000 }],
  ]);
  expect(fake.calls('ecr', 'CreateRepository')).toEqual([]);
});

test('create: exactly the configured settings, then the lifecycle policy; a second run creates nothing', async () => {
  fake.addRepository('team/api');
  const lifecyclePolicy = JSON.stringify({
    rules: [
      {
        rulePriority: 1,
        selection: {
          tagStatus: 'untagged',
          countType: 'sinceImagePushed',
          countUnit: 'days',
          countNumber: 14,
        },
        action: { type: 'expire' },
      },
    ],
  });
  const options = {
    repositories: [`${EU}/team/api`, `${EU}/team/web`, `${US}/team/worker`, 'quay.io/acme/x'],
    create: true,
    settings: { scanOnPush: true, tagMutability: 'IMMUTABLE' as const, lifecyclePolicy },
    clientFor,
    publicClient,
    concurrency: 1,
  };
  const first = await checkRepositories(options);
  expect(first).toEqual({
    existing: [`${EU}/team/api`],
    missing: [`${EU}/team/web`, `${US}/team/worker`],
    created: [`${EU}/team/web`, `${US}/team/worker`],
    skipped: ['quay.io/acme/x'],
  });
  const created = (name: string, region: string) => [
    [
      'CreateRepository',
      region,
      {
        registryId: '123456789012',
        repositoryName: name,
        imageTagMutability: 'IMMUTABLE',
        imageScanningConfiguration: { scanOnPush: true },
      },
    ],
    [
      'PutLifecyclePolicy',
      region,
      { registryId: '123456789012', repositoryName: name, lifecyclePolicyText: lifecyclePolicy },
    ],
  ];
  expect(calls().filter(([operation]) => operation !== 'DescribeRepositories')).toEqual([
    ...created('team/web', 'eu-west-1'),
    ...created('team/worker', 'us-east-2'),
  ]);
  expect(fake.repository('team/web')).toMatchObject({
    imageTagMutability: 'IMMUTABLE',
    scanOnPush: true,
    lifecyclePolicy,
  });

  fake.requests.length = 0;
  const second = await checkRepositories(options);
  expect(second).toEqual({
    existing: [`${EU}/team/api`, `${EU}/team/web`, `${US}/team/worker`],
    missing: [],
    created: [],
    skipped: ['quay.io/acme/x'],
  });
  expect(calls().map(([operation]) => operation)).toEqual([
    'DescribeRepositories',
    'DescribeRepositories',
  ]);
});

test('settings not given are not sent', async () => {
  await checkRepositories({ repositories: [`${EU}/plain`], create: true, clientFor, publicClient });
  expect(fake.calls('ecr', 'CreateRepository').map((call) => call.body)).toEqual([
    { registryId: '123456789012', repositoryName: 'plain' },
  ]);
  expect(fake.calls('ecr', 'PutLifecyclePolicy')).toEqual([]);
});

test('a repository a concurrent run created meanwhile counts as there', async () => {
  fake.before('ecr', 'CreateRepository', (body) => {
    if (body.repositoryName === 'team/raced' && !fake.repository('team/raced')) {
      fake.addRepository('team/raced');
    }
  });
  const result = await checkRepositories({
    repositories: [`${EU}/team/raced`, `${EU}/team/new`],
    create: true,
    settings: { lifecyclePolicy: '{"rules":[]}' },
    clientFor,
    publicClient,
    concurrency: 1,
  });
  expect(result).toEqual({
    existing: [`${EU}/team/raced`],
    missing: [`${EU}/team/raced`, `${EU}/team/new`],
    created: [`${EU}/team/new`],
    skipped: [],
  });
  // The policy is the creator's business: only the repository made here gets it.
  expect(fake.calls('ecr', 'PutLifecyclePolicy').map((call) => call.body.repositoryName)).toEqual([
    'team/new',
  ]);
});

test('when listing the registry is denied, each name of the batch is described alone', async () => {
  fake.addRepository('a');
  fake.addRepository('c');
  fake.before('ecr', 'DescribeRepositories', (body) =>
    body.repositoryNames
      ? undefined
      : { type: 'AccessDeniedException', message: 'not authorized to list' },
  );
  const error = await checkRepositories({
    repositories: [`${EU}/a`, `${EU}/b`, `${EU}/c`],
    create: false,
    clientFor,
    publicClient,
  }).catch((e: unknown) => e);
  expect((error as MissingRepositoriesError).missing).toEqual([`${EU}/b`]);
  expect(fake.requests.map((r) => r.body.repositoryNames ?? 'list')).toEqual([
    ['a', 'b', 'c'],
    'list',
    ['a'],
    ['b'],
    ['c'],
  ]);
});

test('ECR Public: names after the alias, created in us-east-1 without private-only settings', async () => {
  fake.addRepository('api', { service: 'ecr-public' });
  const result = await checkRepositories({
    repositories: ['public.ecr.aws/acme/api:latest', 'public.ecr.aws/acme/image/service'],
    create: true,
    settings: { scanOnPush: true, tagMutability: 'IMMUTABLE', lifecyclePolicy: '{"rules":[]}' },
    clientFor,
    publicClient,
  });
  expect(result).toEqual({
    existing: ['public.ecr.aws/acme/api'],
    missing: ['public.ecr.aws/acme/image/service'],
    created: ['public.ecr.aws/acme/image/service'],
    skipped: [],
  });
  expect(
    fake.requests.map((r) => [
      r.service,
      r.operation,
      r.signedRegion,
      r.headers['x-amz-target'],
      r.body,
    ]),
  ).toEqual([
    [
      'ecr-public',
      'DescribeRepositories',
      'us-east-1',
      'SpencerFrontendService.DescribeRepositories',
      { repositoryNames: ['api', 'image/service'] },
    ],
    [
      'ecr-public',
      'DescribeRepositories',
      'us-east-1',
      'SpencerFrontendService.DescribeRepositories',
      { maxResults: 1000 },
    ],
    [
      'ecr-public',
      'CreateRepository',
      'us-east-1',
      'SpencerFrontendService.CreateRepository',
      { repositoryName: 'image/service' },
    ],
  ]);
  expect(fake.repository('image/service', { service: 'ecr-public' })).toBeDefined();

  const missing = await checkRepositories({
    repositories: ['public.ecr.aws/acme/other'],
    create: false,
    clientFor,
    publicClient,
  }).catch((e: unknown) => e);
  expect((missing as Error).message).toContain(
    'aws ecr-public create-repository --repository-name other --region us-east-1',
  );
});

test('a lifecycle policy that is not JSON is a ConfigError before any call', async () => {
  await expect(
    checkRepositories({
      repositories: [`${EU}/x`],
      create: true,
      settings: { lifecyclePolicy: '{rules: [' },
      clientFor,
      publicClient,
    }),
  ).rejects.toThrow(ConfigError);
  expect(fake.requests).toEqual([]);
});

test('other AWS errors stop the check with the permission to grant', async () => {
  fake.fail('ecr', 'DescribeRepositories', {
    type: 'AccessDeniedException',
    message:
      'User: arn:aws:sts::123456789012:assumed-role/ci/x is not authorized to perform: ecr:DescribeRepositories',
  });
  const error = await checkRepositories({
    repositories: [`${EU}/a`],
    create: true,
    clientFor,
    publicClient,
  }).catch((e: unknown) => e);
  expect((error as Error).message).toBe(
    `cannot check the repositories of ${EU}: access denied for ecr:DescribeRepositories (AccessDeniedException: User: arn:aws:sts::123456789012:assumed-role/ci/x is not authorized to perform: ecr:DescribeRepositories). The IAM role or user needs permission for ecr:DescribeRepositories.`,
  );
  expect(fake.calls('ecr', 'CreateRepository')).toEqual([]);
});

test('results keep the order of the input across registries', async () => {
  fake.addRepository('b', { region: 'us-east-2' });
  const error = await checkRepositories({
    repositories: [`${US}/a`, `${EU}/c`, `${US}/b`, 'ghcr.io/acme/x', `${US}/d`],
    create: false,
    clientFor,
    publicClient,
  }).catch((e: unknown) => e);
  expect((error as MissingRepositoriesError).missing).toEqual([`${US}/a`, `${EU}/c`, `${US}/d`]);
});
