// ECR host names, the `ecr` alias (real STS client against the fake AWS server), immutable
// tag errors, and the BatchGetImage + PutImage retag (real ECR client, fake server).
import { ECRClient } from '@aws-sdk/client-ecr';
import { STSClient } from '@aws-sdk/client-sts';
import { ConfigError, NameError, UserError } from '../../src/core/errors.js';
import { RegistryError } from '../../src/registry/errors.js';
import {
  AwsError,
  ECR_MANIFEST_MEDIA_TYPES,
  confirmImmutableTag,
  ecrRetag,
  formatEcrHost,
  isEcrAlias,
  isEcrPublic,
  isImmutableTagError,
  parseEcrHost,
  parseEcrRepository,
  resolveEcrRegistry,
} from '../../src/registry/ecr.js';
import { parseEcrPublicRepository } from '../../src/registry/ecr-public.js';
import { type FakeAws, TEST_CREDENTIALS, startFakeAws } from '../support/fake-aws.js';

let fake: FakeAws;
const clients: { destroy(): void }[] = [];

beforeAll(async () => {
  fake = await startFakeAws({ account: '210987654321' });
});

afterAll(async () => {
  for (const client of clients) client.destroy();
  await fake.stop();
});

beforeEach(() => {
  fake.requests.length = 0;
});

function stsClient(region = 'eu-west-1'): STSClient {
  const client = new STSClient({ region, endpoint: fake.endpoint, credentials: TEST_CREDENTIALS });
  clients.push(client);
  return client;
}

function ecrClient(region = 'eu-west-1'): ECRClient {
  const client = new ECRClient({ region, endpoint: fake.endpoint, credentials: TEST_CREDENTIALS });
  clients.push(client);
  return client;
}

describe('parseEcrHost', () => {
  test.each([
    [
      '123456789012.dkr.ecr.eu-west-1.amazonaws.com',
      { account: '123456789012', region: 'eu-west-1', fips: false, partition: 'aws' },
    ],
    [
      '123456789012.dkr.ecr-fips.us-east-1.amazonaws.com',
      { account: '123456789012', region: 'us-east-1', fips: true, partition: 'aws' },
    ],
    [
      '123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn',
      { account: '123456789012', region: 'cn-north-1', fips: false, partition: 'aws-cn' },
    ],
    [
      '123456789012.dkr.ecr.us-gov-west-1.amazonaws.com',
      { account: '123456789012', region: 'us-gov-west-1', fips: false, partition: 'aws-us-gov' },
    ],
    [
      '123456789012.dkr.ecr-fips.us-gov-east-1.amazonaws.com',
      { account: '123456789012', region: 'us-gov-east-1', fips: true, partition: 'aws-us-gov' },
    ],
    [
      '123456789012.dkr-ecr.ap-southeast-2.on.aws',
      { account: '123456789012', region: 'ap-southeast-2', fips: false, partition: 'aws' },
    ],
    // As written in docker config `auths` keys, with a path, in capitals, with :443.
    [
      'https://123456789012.dkr.ecr.eu-central-1.amazonaws.com/v2/',
      { account: '123456789012', region: 'eu-central-1', fips: false, partition: 'aws' },
    ],
    [
      '123456789012.DKR.ECR.EU-WEST-1.AMAZONAWS.COM:443',
      { account: '123456789012', region: 'eu-west-1', fips: false, partition: 'aws' },
    ],
    [
      '123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/api',
      { account: '123456789012', region: 'eu-west-1', fips: false, partition: 'aws' },
    ],
  ])('%s', (host, expected) => {
    expect(parseEcrHost(host)).toEqual(expected);
  });

  test.each([
    'public.ecr.aws',
    'ghcr.io',
    'docker.io',
    '127.0.0.1:5000',
    '12345678901.dkr.ecr.eu-west-1.amazonaws.com', // 11 digits
    '123456789012.dkr.ecr.eu-west-1.amazonaws.com.evil.example',
    'evil.example/123456789012.dkr.ecr.eu-west-1.amazonaws.com',
    '123456789012.dkr.ecr.eu-west-1.amazonaws.com:5000',
    '123456789012.dkr.ecr.eu-west-1.amazonaws.com.cn', // China suffix, non-China region
    '123456789012.dkr.ecr.cn-north-1.amazonaws.com', // China region, global suffix
    '123456789012.dkr-ecr.eu-west-1.amazonaws.com',
    '123456789012.dkr.ecr.eu-west-1.on.aws',
    '123456789012.dkr.ecr.notaregion.amazonaws.com',
    '123456789012.dkr.ecr.us-iso-east-1.c2s.ic.gov',
  ])('%s is not a private ECR host', (host) => {
    expect(parseEcrHost(host)).toBeUndefined();
  });

  test('isEcrPublic', () => {
    expect(isEcrPublic('public.ecr.aws')).toBe(true);
    expect(isEcrPublic('PUBLIC.ECR.AWS')).toBe(true);
    expect(isEcrPublic('https://public.ecr.aws/v2/')).toBe(true);
    expect(isEcrPublic('public.ecr.aws/acme/api')).toBe(true);
    expect(isEcrPublic('public.ecr.aws.evil.example')).toBe(false);
    expect(isEcrPublic('123456789012.dkr.ecr.us-east-1.amazonaws.com')).toBe(false);
    expect(isEcrPublic('ghcr.io')).toBe(false);
  });

  test('formatEcrHost is the inverse, with the China suffix', () => {
    for (const host of [
      '123456789012.dkr.ecr.eu-west-1.amazonaws.com',
      '123456789012.dkr.ecr-fips.us-east-2.amazonaws.com',
      '123456789012.dkr.ecr.cn-northwest-1.amazonaws.com.cn',
    ]) {
      const parsed = parseEcrHost(host);
      expect(parsed).toBeDefined();
      expect(formatEcrHost(parsed!)).toBe(host);
    }
  });

  test('repository names: private by path, public by the part after the alias', () => {
    expect(parseEcrRepository('123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/api:v1')).toEqual({
      host: '123456789012.dkr.ecr.eu-west-1.amazonaws.com',
      registry: { account: '123456789012', region: 'eu-west-1', fips: false, partition: 'aws' },
      repositoryName: 'team/api',
    });
    expect(parseEcrRepository('ghcr.io/acme/api')).toBeUndefined();
    expect(parseEcrPublicRepository('public.ecr.aws/acme/api:latest')).toEqual({
      alias: 'acme',
      name: 'api',
    });
    expect(parseEcrPublicRepository('public.ecr.aws/acme/image/service')).toEqual({
      alias: 'acme',
      name: 'image/service',
    });
    expect(parseEcrPublicRepository('public.ecr.aws/acme')).toBeUndefined();
    expect(parseEcrPublicRepository('ghcr.io/acme/api')).toBeUndefined();
  });
});

describe('resolveEcrRegistry', () => {
  test('`ecr` is the caller account (from STS) in AWS_REGION', async () => {
    const sts = stsClient('eu-west-1');
    expect(await resolveEcrRegistry('ecr', { env: { AWS_REGION: 'eu-west-1' }, sts })).toBe(
      '210987654321.dkr.ecr.eu-west-1.amazonaws.com',
    );
    const calls = fake.calls('sts');
    expect(calls.map((call) => [call.operation, call.signedRegion, call.signedService])).toEqual([
      ['GetCallerIdentity', 'eu-west-1', 'sts'],
    ]);
    expect(calls[0]?.body).toEqual({ Action: 'GetCallerIdentity', Version: '2011-06-15' });
  });

  test('`ecr/<namespace>`, AWS_DEFAULT_REGION, China, FIPS', async () => {
    expect(
      await resolveEcrRegistry('ecr/platform/stable', {
        env: { AWS_DEFAULT_REGION: 'us-east-2' },
        sts: stsClient('us-east-2'),
      }),
    ).toBe('210987654321.dkr.ecr.us-east-2.amazonaws.com/platform/stable');
    expect(
      await resolveEcrRegistry('ecr', {
        env: { AWS_REGION: 'cn-north-1', AWS_DEFAULT_REGION: 'us-east-2' },
        sts: stsClient('cn-north-1'),
      }),
    ).toBe('210987654321.dkr.ecr.cn-north-1.amazonaws.com.cn');
    expect(
      await resolveEcrRegistry('ecr', {
        env: { AWS_REGION: 'us-east-1', AWS_USE_FIPS_ENDPOINT: 'true' },
        sts: stsClient('us-east-1'),
      }),
    ).toBe('210987654321.dkr.ecr-fips.us-east-1.amazonaws.com');
  });

  test('without a region: a ConfigError saying to set AWS_REGION, and no AWS call', async () => {
    const error = await resolveEcrRegistry('ecr', { env: {}, sts: stsClient() }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/AWS_REGION/);
    expect((error as Error).message).toMatch(/aws-actions\/configure-aws-credentials/);
    expect(fake.requests).toEqual([]);
  });

  test('other registries pass unchanged; a bad namespace is a ConfigError', async () => {
    const sts = stsClient();
    for (const value of [
      'ghcr.io/acme',
      '',
      'ecrx',
      '123456789012.dkr.ecr.eu-west-1.amazonaws.com',
    ]) {
      expect(await resolveEcrRegistry(value, { env: { AWS_REGION: 'eu-west-1' }, sts })).toBe(
        value,
      );
    }
    expect(isEcrAlias('ecr')).toBe(true);
    expect(isEcrAlias('ecr/a')).toBe(true);
    expect(isEcrAlias('ecr.example.com')).toBe(false);
    await expect(
      resolveEcrRegistry('ecr/Team', { env: { AWS_REGION: 'eu-west-1' }, sts }),
    ).rejects.toThrow(ConfigError);
    await expect(
      resolveEcrRegistry('ecr/', { env: { AWS_REGION: 'eu-west-1' }, sts }),
    ).rejects.toThrow(ConfigError);
    expect(fake.requests).toEqual([]);
  });

  test('STS errors come back as clear messages', async () => {
    fake.fail('sts', 'GetCallerIdentity', {
      status: 403,
      type: 'ExpiredToken',
      message: 'The security token included in the request is expired',
      times: 1,
    });
    const error = await resolveEcrRegistry('ecr', {
      env: { AWS_REGION: 'eu-west-1' },
      sts: stsClient(),
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AwsError);
    expect((error as AwsError).code).toBe('ExpiredToken');
    expect((error as Error).message).toMatch(
      /^cannot find the AWS account for registry "ecr": the AWS credentials have expired \(ExpiredToken: The security token included in the request is expired\)/,
    );
  });
});

describe('isImmutableTagError', () => {
  const ecrUrl = 'https://123456789012.dkr.ecr.eu-west-1.amazonaws.com/v2/team/api/manifests/v1';
  const ecrMessage =
    "The image tag 'v1' already exists in the 'team/api' repository and cannot be overwritten because the repository is immutable.";

  test('the registry API answer TAG_INVALID, from ECR', () => {
    expect(
      isImmutableTagError(
        new RegistryError({
          method: 'PUT',
          url: ecrUrl,
          status: 400,
          errors: [{ code: 'TAG_INVALID', message: ecrMessage }],
        }),
      ),
    ).toBe(true);
    expect(
      isImmutableTagError(
        new RegistryError({
          method: 'PUT',
          url: ecrUrl,
          status: 400,
          errors: [{ code: 'TAG_INVALID', message: '' }],
        }),
      ),
    ).toBe(true);
  });

  test('the SDK exception, and the text a builder prints', () => {
    const sdk = Object.assign(new Error(ecrMessage), { name: 'ImageTagAlreadyExistsException' });
    expect(isImmutableTagError(sdk)).toBe(true);
    expect(
      isImmutableTagError(
        new AwsError('x', { code: 'ImageTagAlreadyExistsException', action: 'ecr:PutImage' }),
      ),
    ).toBe(true);
    expect(isImmutableTagError(new Error(`error pushing: tag invalid: ${ecrMessage}`))).toBe(true);
    expect(isImmutableTagError(`tag invalid: ${ecrMessage}`)).toBe(true);
  });

  test('other errors are not', () => {
    expect(
      isImmutableTagError(
        new RegistryError({
          method: 'PUT',
          url: 'http://127.0.0.1:5000/v2/a/manifests/v1',
          status: 400,
          errors: [{ code: 'TAG_INVALID', message: 'manifest tag did not match URI' }],
        }),
      ),
    ).toBe(false);
    expect(
      isImmutableTagError(
        new RegistryError({
          method: 'PUT',
          url: ecrUrl,
          status: 400,
          errors: [{ code: 'MANIFEST_INVALID', message: 'manifest invalid' }],
        }),
      ),
    ).toBe(false);
    expect(isImmutableTagError(new Error('tag already exists'))).toBe(false);
    expect(isImmutableTagError(undefined)).toBe(false);
    expect(
      isImmutableTagError(Object.assign(new Error('x'), { name: 'ImageAlreadyExistsException' })),
    ).toBe(false);
  });

  test('confirmImmutableTag: same digest is success, another digest a clear error', async () => {
    const digest = `sha256:${'a'.repeat(64)}`;
    const other = `sha256:${'b'.repeat(64)}`;
    const heads: string[] = [];
    const client = {
      headManifest: async (reference: string) => {
        heads.push(reference);
        return { digest, mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 10 };
      },
    };
    const repository = '123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/api';
    await expect(confirmImmutableTag(client, repository, 'v1', digest)).resolves.toBeUndefined();
    const error = await confirmImmutableTag(client, repository, 'v1', other).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(UserError);
    expect((error as Error).message).toBe(
      `${repository}:v1 already exists and the repository's tags are IMMUTABLE: it points at ${digest}, not at ${other}. Use a tag that changes with every build (such as the commit sha), or set the repository to MUTABLE.`,
    );
    expect(heads).toEqual([`${repository}:v1`, `${repository}:v1`]);
  });
});

describe('ecrRetag', () => {
  // Odd spacing and key order: any re-serialisation would change the digest.
  const manifest =
    '{\n   "schemaVersion": 2,\n"mediaType": "application/vnd.oci.image.manifest.v1+json",' +
    '  "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": 2, ' +
    `"digest": "sha256:${'1'.repeat(64)}"}, "layers": [] }\n`;
  const mediaType = 'application/vnd.oci.image.manifest.v1+json';

  test('BatchGetImage + PutImage of the exact bytes; a repeat is success', async () => {
    const repository = fake.addRepository('team/api');
    const image = fake.addImage(repository, 'staging', manifest, mediaType);
    const client = ecrClient();

    const result = await ecrRetag({
      client,
      repositoryName: 'team/api',
      sourceTagOrDigest: 'staging',
      targetTag: 'release',
    });
    expect(result).toEqual({ digest: image.digest, mediaType, changed: true });
    expect(fake.requests.map((r) => [r.service, r.operation, r.body])).toEqual([
      [
        'ecr',
        'BatchGetImage',
        {
          repositoryName: 'team/api',
          imageIds: [{ imageTag: 'staging' }],
          acceptedMediaTypes: [...ECR_MANIFEST_MEDIA_TYPES],
        },
      ],
      [
        'ecr',
        'PutImage',
        {
          repositoryName: 'team/api',
          imageManifest: manifest,
          imageManifestMediaType: mediaType,
          imageTag: 'release',
          imageDigest: image.digest,
        },
      ],
    ]);
    expect(ECR_MANIFEST_MEDIA_TYPES).toHaveLength(4);
    expect(repository.tags.get('release')?.manifest).toBe(manifest);

    fake.requests.length = 0;
    const again = await ecrRetag({
      client,
      repositoryName: 'team/api',
      sourceTagOrDigest: image.digest,
      targetTag: 'release',
    });
    expect(again).toEqual({ digest: image.digest, mediaType, changed: false });
    expect(fake.requests[0]?.body.imageIds).toEqual([{ imageDigest: image.digest }]);
    expect(fake.requests.map((r) => r.operation)).toEqual(['BatchGetImage', 'PutImage']);
  });

  test('cross-account registry id; a missing source; an immutable tag', async () => {
    const repository = fake.addRepository('shared/base', {
      registryId: '111122223333',
      imageTagMutability: 'IMMUTABLE',
    });
    fake.addImage(repository, 'staging', manifest, mediaType);
    fake.addImage(repository, 'release', manifest.replace('"size": 2', '"size": 3'), mediaType);
    const client = ecrClient();

    const missing = await ecrRetag({
      client,
      registryId: '111122223333',
      repositoryName: 'shared/base',
      sourceTagOrDigest: 'nope',
      targetTag: 'release',
    }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(UserError);
    expect((missing as Error).message).toBe(
      'cannot tag 111122223333:shared/base:nope as release: the image was not found (ImageNotFound: Requested image not found)',
    );
    expect(fake.calls('ecr', 'PutImage')).toHaveLength(0);

    const immutable = await ecrRetag({
      client,
      registryId: '111122223333',
      repositoryName: 'shared/base',
      sourceTagOrDigest: 'staging',
      targetTag: 'release',
    }).catch((e: unknown) => e);
    expect(isImmutableTagError(immutable)).toBe(true);
    expect((immutable as Error).message).toMatch(/IMMUTABLE/);
    expect(fake.calls('ecr', 'PutImage')[0]?.body.registryId).toBe('111122223333');

    await expect(
      ecrRetag({
        client,
        repositoryName: 'shared/base',
        sourceTagOrDigest: 'a',
        targetTag: 'bad tag',
      }),
    ).rejects.toThrow(NameError);
  });
});
