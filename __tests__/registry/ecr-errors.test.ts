// AWS failures turned into messages a user can act on, with aws-sdk-client-mock standing in
// for the SDK clients' send (no server at all).
import {
  CreateRepositoryCommand,
  DescribeRepositoriesCommand,
  ECRClient,
  GetAuthorizationTokenCommand,
  PutImageCommand,
  BatchGetImageCommand,
} from '@aws-sdk/client-ecr';
import {
  ECRPUBLICClient,
  GetAuthorizationTokenCommand as GetPublicAuthorizationTokenCommand,
} from '@aws-sdk/client-ecr-public';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { UserError } from '../../src/core/errors.js';
import {
  AwsError,
  awsError,
  ecrCredentials,
  ecrRetag,
  isImmutableTagError,
  resolveEcrRegistry,
} from '../../src/registry/ecr.js';
import { checkRepositories } from '../../src/registry/repositories.js';

const ecrMock = mockClient(ECRClient);
const publicMock = mockClient(ECRPUBLICClient);
const stsMock = mockClient(STSClient);

const HOST = '123456789012.dkr.ecr.eu-west-1.amazonaws.com';
const region = 'eu-west-1';
const credentials = { accessKeyId: 'AKIDTEST', secretAccessKey: 'test' };

/** An error shaped as the SDK throws it: the AWS error code as `name`, and `$metadata`. */
function awsFailure(name: string, message: string, attempts = 1): Error {
  return Object.assign(new Error(message), {
    name,
    $fault: 'client',
    $metadata: { httpStatusCode: 400, attempts, totalRetryDelay: 0 },
  });
}

const token = (password: string) => ({
  authorizationData: [
    {
      authorizationToken: Buffer.from(`AWS:${password}`).toString('base64'),
      expiresAt: new Date(Date.now() + 12 * 3600_000),
    },
  ],
});

let clients: ECRClient[] = [];
const clientFor = (r: string): ECRClient => {
  const client = new ECRClient({ region: r, credentials });
  clients.push(client);
  return client;
};

beforeEach(() => {
  ecrMock.reset();
  publicMock.reset();
  stsMock.reset();
});

afterEach(() => {
  for (const client of clients) client.destroy();
  clients = [];
});

afterAll(() => {
  ecrMock.restore();
  publicMock.restore();
  stsMock.restore();
});

test('expired credentials: say so and how to refresh; the next try asks AWS again', async () => {
  ecrMock
    .on(GetAuthorizationTokenCommand)
    .rejectsOnce(
      awsFailure('ExpiredTokenException', 'The security token included in the request is expired'),
    )
    .resolves(token('fresh'));
  const store = ecrCredentials({ clientFor });
  const error = await store.get(HOST).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(AwsError);
  expect(error).toMatchObject({
    code: 'ExpiredTokenException',
    action: 'ecr:GetAuthorizationToken',
  });
  expect((error as Error).message).toBe(
    `cannot get a registry token for ${HOST} (region eu-west-1): the AWS credentials have expired (ExpiredTokenException: The security token included in the request is expired). Refresh them: in GitHub Actions re-run aws-actions/configure-aws-credentials (a longer role-duration-seconds helps long jobs), locally \`aws sso login\` or new keys.`,
  );
  expect(await store.get(HOST)).toEqual({ username: 'AWS', password: 'fresh' });
  expect(ecrMock.commandCalls(GetAuthorizationTokenCommand)).toHaveLength(2);
});

test('access denied: which action, which IAM permission', async () => {
  ecrMock
    .on(GetAuthorizationTokenCommand)
    .rejects(
      awsFailure(
        'AccessDeniedException',
        'User: arn:aws:sts::123456789012:assumed-role/ci/run is not authorized to perform: ecr:GetAuthorizationToken on resource: *',
      ),
    );
  const error = await ecrCredentials({ clientFor })
    .get(HOST)
    .catch((e: unknown) => e);
  expect(error).toBeInstanceOf(UserError);
  expect((error as Error).message).toBe(
    `cannot get a registry token for ${HOST} (region eu-west-1): access denied for ecr:GetAuthorizationToken (AccessDeniedException: User: arn:aws:sts::123456789012:assumed-role/ci/run is not authorized to perform: ecr:GetAuthorizationToken on resource: *). The IAM role or user needs permission for ecr:GetAuthorizationToken.`,
  );
});

test('ECR Public access denied names both permissions it needs', async () => {
  publicMock
    .on(GetPublicAuthorizationTokenCommand)
    .rejects(awsFailure('AccessDeniedException', 'not authorized'));
  const store = ecrCredentials();
  try {
    const error = await store.get('public.ecr.aws').catch((e: unknown) => e);
    expect((error as Error).message).toBe(
      'cannot get a registry token for public.ecr.aws (ECR Public, region us-east-1): access denied for ecr-public:GetAuthorizationToken (AccessDeniedException: not authorized). The IAM role or user needs permission for ecr-public:GetAuthorizationToken and sts:GetServiceBearerToken.',
    );
  } finally {
    store.destroy();
  }
});

test('throttling after the SDK retries: say it was retried and what to do', async () => {
  ecrMock
    .on(GetAuthorizationTokenCommand)
    .rejects(awsFailure('ThrottlingException', 'Rate exceeded', 3));
  const error = await ecrCredentials({ clientFor })
    .get(HOST)
    .catch((e: unknown) => e);
  expect(error).toMatchObject({ code: 'ThrottlingException', attempts: 3 });
  expect((error as Error).message).toBe(
    `cannot get a registry token for ${HOST} (region eu-west-1): AWS throttled ecr:GetAuthorizationToken (ThrottlingException: Rate exceeded) and it still failed after 3 attempts with the SDK's backoff. Try again later, or run fewer jobs against this account at the same time.`,
  );
});

test('no credentials anywhere, invalid keys, an unknown failure', () => {
  const context = { action: 'ecr:GetAuthorizationToken', doing: 'get a token' };
  const none = awsError(
    Object.assign(new Error('Could not load credentials from any providers'), {
      name: 'CredentialsProviderError',
    }),
    context,
  );
  expect(none.message).toBe(
    'cannot get a token: no AWS credentials were found (Could not load credentials from any providers). Configure them, e.g. with aws-actions/configure-aws-credentials in GitHub Actions, or AWS_PROFILE / AWS_ACCESS_KEY_ID locally.',
  );
  expect(
    awsError(awsFailure('UnrecognizedClientException', 'The security token is invalid.'), context)
      .message,
  ).toMatch(
    /^cannot get a token: AWS does not accept the credentials \(UnrecognizedClientException/,
  );
  expect(awsError(awsFailure('ServerException', 'boom'), context).message).toBe(
    'cannot get a token: ecr:GetAuthorizationToken failed (ServerException: boom).',
  );
  const user = new UserError('already clear');
  expect(awsError(user, context)).toBe(user);
});

test('a token that is not base64 user:password is a clear error', async () => {
  ecrMock.on(GetAuthorizationTokenCommand).resolves({
    authorizationData: [{ authorizationToken: Buffer.from('nocolon').toString('base64') }],
  });
  await expect(ecrCredentials({ clientFor }).get(HOST)).rejects.toThrow(
    `cannot get a registry token for ${HOST}: AWS answered without a usable authorization token`,
  );
});

test('STS access problems while resolving `ecr`', async () => {
  stsMock
    .on(GetCallerIdentityCommand)
    .rejects(
      awsFailure('InvalidClientTokenId', 'The security token included in the request is invalid.'),
    );
  const sts = new STSClient({ region, credentials });
  try {
    await expect(resolveEcrRegistry('ecr', { env: { AWS_REGION: region }, sts })).rejects.toThrow(
      /^cannot find the AWS account for registry "ecr": AWS does not accept the credentials \(InvalidClientTokenId/,
    );
  } finally {
    sts.destroy();
  }
});

test('repository checks: the permission missing for describe or create', async () => {
  ecrMock
    .on(DescribeRepositoriesCommand)
    .rejects(
      awsFailure('RepositoryNotFoundException', "The repository with name 'a' does not exist"),
    );
  ecrMock
    .on(DescribeRepositoriesCommand, { registryId: '123456789012', maxResults: 1000 })
    .resolves({ repositories: [] });
  ecrMock.on(CreateRepositoryCommand).rejects(awsFailure('AccessDeniedException', 'denied'));
  const error = await checkRepositories({
    repositories: [`${HOST}/a`],
    create: true,
    clientFor,
  }).catch((e: unknown) => e);
  expect((error as Error).message).toBe(
    `cannot create the repository ${HOST}/a: access denied for ecr:CreateRepository (AccessDeniedException: denied). The IAM role or user needs permission for ecr:CreateRepository.`,
  );
  expect(ecrMock.commandCalls(CreateRepositoryCommand)[0]?.args[0].input).toEqual({
    registryId: '123456789012',
    repositoryName: 'a',
  });
});

test('ecrRetag: an immutable tag that names another image is recognisable', async () => {
  const manifest = '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}';
  ecrMock.on(BatchGetImageCommand).resolves({
    images: [
      {
        imageId: { imageTag: 'staging' },
        imageManifest: manifest,
        imageManifestMediaType: 'application/vnd.oci.image.manifest.v1+json',
      },
    ],
  });
  ecrMock
    .on(PutImageCommand)
    .rejects(
      awsFailure(
        'ImageTagAlreadyExistsException',
        "The image tag 'release' already exists in the 'team/api' repository and cannot be overwritten because the repository is immutable.",
      ),
    );
  const error = await ecrRetag({
    client: clientFor(region),
    repositoryName: 'team/api',
    sourceTagOrDigest: 'staging',
    targetTag: 'release',
  }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(AwsError);
  expect(isImmutableTagError(error)).toBe(true);
  expect(ecrMock.commandCalls(PutImageCommand)[0]?.args[0].input.imageManifest).toBe(manifest);

  ecrMock.on(PutImageCommand).rejects(awsFailure('ThrottlingException', 'Rate exceeded', 3));
  const throttled = await ecrRetag({
    client: clientFor(region),
    repositoryName: 'team/api',
    sourceTagOrDigest: 'staging',
    targetTag: 'release',
  }).catch((e: unknown) => e);
  expect((throttled as Error).message).toMatch(
    /^cannot tag team\/api:staging as release: AWS throttled ecr:PutImage/,
  );
});
