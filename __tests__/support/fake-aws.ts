// A small stand-in for the AWS APIs image-builder calls, on 127.0.0.1, for the real SDK
// clients to talk to (`endpoint: fake.endpoint`). It speaks the wire protocols the SDKs use:
// ECR and ECR Public are AWS JSON 1.1 (`POST /`, `X-Amz-Target: <prefix>.<Operation>`, JSON
// body; errors as HTTP 400 with `{"__type":"<Name>","message":"…"}`), STS is the query
// protocol (`Action=GetCallerIdentity` form body, XML answer). Every request is recorded
// with its operation, parsed body and the region its SigV4 signature was scoped to.
import { createHash } from 'node:crypto';
import { type IncomingHttpHeaders, createServer } from 'node:http';

export type FakeService = 'ecr' | 'ecr-public' | 'sts';

export interface FakeAwsRequest {
  service: FakeService;
  /** `GetAuthorizationToken`, `DescribeRepositories`, `GetCallerIdentity`… */
  operation: string;
  /** The JSON body (ECR), or the form fields (STS). */
  body: Record<string, unknown>;
  /** The region of the SigV4 credential scope in the Authorization header. */
  signedRegion: string | undefined;
  /** The signing service name of that scope (`ecr`, `ecr-public`, `sts`). */
  signedService: string | undefined;
  headers: IncomingHttpHeaders;
}

export interface FakeImage {
  manifest: string;
  mediaType: string;
  digest: string;
}

export interface FakeRepository {
  name: string;
  registryId: string;
  /** ECR registries are per account and region; ECR Public's is in us-east-1. */
  region: string;
  imageTagMutability: string;
  scanOnPush: boolean;
  lifecyclePolicy?: string;
  /** tag → image */
  tags: Map<string, FakeImage>;
  /** digest → image */
  images: Map<string, FakeImage>;
}

export interface RepositoryPlace {
  service?: 'ecr' | 'ecr-public';
  registryId?: string;
  /** Default eu-west-1; ECR Public is always us-east-1. */
  region?: string;
}

export interface FakeFault {
  status?: number;
  type: string;
  message?: string;
  /** How many requests fail (default: all until cleared). */
  times?: number;
}

export interface FakeAwsOptions {
  /** The account STS reports and the default registry id (default `123456789012`). */
  account?: string;
  /** The password GetAuthorizationToken hands out for user `AWS` (both ECR flavours). */
  password?: string;
  /** Token lifetime in seconds (default 12 h, as ECR). */
  tokenLifetimeSeconds?: number;
  /** The ECR Public registry alias in repository URIs (default `acme`). */
  publicAlias?: string;
  /** The most repositories one DescribeRepositories page holds (AWS may return fewer). */
  pageSize?: number;
}

export interface FakeAws {
  /** `http://127.0.0.1:PORT`, for the clients' `endpoint`. */
  endpoint: string;
  requests: FakeAwsRequest[];
  /** Requests of one service (and operation). */
  calls(service: FakeService, operation?: string): FakeAwsRequest[];
  options: Required<FakeAwsOptions>;
  /** Repositories by `<service> <registryId> <region> <name>`. */
  repositories: Map<string, FakeRepository>;
  /** A repository (default: ECR, the fake's account, eu-west-1). */
  addRepository(
    name: string,
    init?: RepositoryPlace & { imageTagMutability?: string; scanOnPush?: boolean },
  ): FakeRepository;
  repository(name: string, where?: RepositoryPlace): FakeRepository | undefined;
  /** Stores an image under a tag, as a push would. */
  addImage(repository: FakeRepository, tag: string, manifest: string, mediaType: string): FakeImage;
  /** Makes the next requests of an operation fail with an AWS error. */
  fail(service: FakeService, operation: string, fault: FakeFault): void;
  /**
   * Runs before an operation is handled (e.g. a concurrent run creating a repository); a
   * fault it returns is the answer.
   */
  before(
    service: FakeService,
    operation: string,
    hook: (body: Record<string, unknown>) => FakeFault | void,
  ): void;
  stop(): Promise<void>;
}

export const ECR_TARGET_PREFIX = 'AmazonEC2ContainerRegistry_V20150921';
export const ECR_PUBLIC_TARGET_PREFIX = 'SpencerFrontendService';

/** Static credentials for the SDK clients of the tests (they sign, the fake does not check). */
export const TEST_CREDENTIALS = {
  accessKeyId: 'AKIDTESTFAKEAWS00000',
  secretAccessKey: 'fake-aws-secret-for-tests',
};

const sha256 = (text: string): string =>
  `sha256:${createHash('sha256').update(text, 'utf8').digest('hex')}`;

class AwsFault extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

/** `Credential=AKID/20240101/us-east-1/ecr/aws4_request` → region and service. */
function credentialScope(headers: IncomingHttpHeaders): { region?: string; service?: string } {
  const match = /Credential=[^/,]+\/\d{8}\/([^/,]+)\/([^/,]+)\/aws4_request/.exec(
    headers.authorization ?? '',
  );
  return match ? { region: match[1], service: match[2] } : {};
}

function xmlEscape(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export async function startFakeAws(options: FakeAwsOptions = {}): Promise<FakeAws> {
  const settings: Required<FakeAwsOptions> = {
    account: options.account ?? '123456789012',
    password: options.password ?? 'fake-ecr-password',
    tokenLifetimeSeconds: options.tokenLifetimeSeconds ?? 12 * 3600,
    publicAlias: options.publicAlias ?? 'acme',
    pageSize: options.pageSize ?? 1000,
  };
  const requests: FakeAwsRequest[] = [];
  const repositories = new Map<string, FakeRepository>();
  const faults = new Map<string, FakeFault>();
  const hooks = new Map<string, (body: Record<string, unknown>) => FakeFault | void>();
  // The region the request being handled was signed for (handling is synchronous).
  let region = 'us-east-1';

  const scopeOf = (service: string, registryId: string, where: string): string =>
    `${service} ${registryId} ${service === 'ecr-public' ? 'us-east-1' : where} `;
  const key = (service: string, registryId: string, name: string, where = region): string =>
    `${scopeOf(service, registryId, where)}${name}`;

  const addRepository: FakeAws['addRepository'] = (name, init = {}) => {
    const service = init.service ?? 'ecr';
    const registryId = init.registryId ?? settings.account;
    const repository: FakeRepository = {
      name,
      registryId,
      region: service === 'ecr-public' ? 'us-east-1' : (init.region ?? 'eu-west-1'),
      imageTagMutability: init.imageTagMutability ?? 'MUTABLE',
      scanOnPush: init.scanOnPush ?? false,
      tags: new Map(),
      images: new Map(),
    };
    repositories.set(key(service, registryId, name, repository.region), repository);
    return repository;
  };

  const addImage: FakeAws['addImage'] = (repository, tag, manifest, mediaType) => {
    const image = { manifest, mediaType, digest: sha256(manifest) };
    repository.images.set(image.digest, image);
    repository.tags.set(tag, image);
    return image;
  };

  const find = (service: 'ecr' | 'ecr-public', body: Record<string, unknown>): FakeRepository => {
    const registryId = String(body.registryId ?? settings.account);
    const name = String(body.repositoryName);
    const repository = repositories.get(key(service, registryId, name));
    if (!repository) throw notFound(name, registryId);
    return repository;
  };

  const notFound = (name: string, registryId: string): AwsFault =>
    new AwsFault(
      'RepositoryNotFoundException',
      `The repository with name '${name}' does not exist in the registry with id '${registryId}'`,
    );

  const describe = (service: 'ecr' | 'ecr-public', repository: FakeRepository) => {
    const uri =
      service === 'ecr'
        ? `${repository.registryId}.dkr.ecr.${repository.region}.amazonaws.com/${repository.name}`
        : `public.ecr.aws/${settings.publicAlias}/${repository.name}`;
    const arnService = service === 'ecr' ? 'ecr' : 'ecr-public';
    return {
      repositoryArn: `arn:aws:${arnService}::${repository.registryId}:repository/${repository.name}`,
      registryId: repository.registryId,
      repositoryName: repository.name,
      repositoryUri: uri,
      createdAt: 1_700_000_000,
      ...(service === 'ecr'
        ? {
            imageTagMutability: repository.imageTagMutability,
            imageScanningConfiguration: { scanOnPush: repository.scanOnPush },
            encryptionConfiguration: { encryptionType: 'AES256' },
          }
        : {}),
    };
  };

  const token = (): { authorizationToken: string; expiresAt: number } => ({
    authorizationToken: Buffer.from(`AWS:${settings.password}`, 'utf8').toString('base64'),
    expiresAt: Math.floor(Date.now() / 1000) + settings.tokenLifetimeSeconds,
  });

  const describeRepositories = (
    service: 'ecr' | 'ecr-public',
    body: Record<string, unknown>,
  ): unknown => {
    const registryId = String(body.registryId ?? settings.account);
    const names = Array.isArray(body.repositoryNames) ? body.repositoryNames.map(String) : [];
    if (names.length > 0) {
      const found: FakeRepository[] = [];
      for (const name of names) {
        const repository = repositories.get(key(service, registryId, name));
        if (!repository) throw notFound(name, registryId);
        found.push(repository);
      }
      return { repositories: found.map((repository) => describe(service, repository)) };
    }
    const all = [...repositories.entries()]
      .filter(([k]) => k.startsWith(scopeOf(service, registryId, region)))
      .map(([, repository]) => repository)
      .sort((a, b) => a.name.localeCompare(b.name));
    const start = Number(body.nextToken ?? 0);
    const size = Math.min(Number(body.maxResults ?? 100), settings.pageSize);
    const page = all.slice(start, start + size);
    const next = start + size < all.length ? String(start + size) : undefined;
    return {
      repositories: page.map((repository) => describe(service, repository)),
      ...(next !== undefined ? { nextToken: next } : {}),
    };
  };

  const createRepository = (service: 'ecr' | 'ecr-public', body: Record<string, unknown>) => {
    const registryId = String(body.registryId ?? settings.account);
    const name = String(body.repositoryName);
    if (repositories.has(key(service, registryId, name))) {
      throw new AwsFault(
        'RepositoryAlreadyExistsException',
        `The repository with name '${name}' already exists in the registry with id '${registryId}'`,
      );
    }
    const scanning = body.imageScanningConfiguration as { scanOnPush?: boolean } | undefined;
    const repository = addRepository(name, {
      service,
      registryId,
      region,
      imageTagMutability:
        typeof body.imageTagMutability === 'string' ? body.imageTagMutability : 'MUTABLE',
      scanOnPush: scanning?.scanOnPush ?? false,
    });
    return { repository: describe(service, repository) };
  };

  const ecr = (operation: string, body: Record<string, unknown>): unknown => {
    switch (operation) {
      case 'GetAuthorizationToken':
        return {
          authorizationData: [
            {
              ...token(),
              proxyEndpoint: `https://${settings.account}.dkr.ecr.${region}.amazonaws.com`,
            },
          ],
        };
      case 'DescribeRepositories':
        return describeRepositories('ecr', body);
      case 'CreateRepository':
        return createRepository('ecr', body);
      case 'PutLifecyclePolicy': {
        const repository = find('ecr', body);
        repository.lifecyclePolicy = String(body.lifecyclePolicyText);
        return {
          registryId: repository.registryId,
          repositoryName: repository.name,
          lifecyclePolicyText: repository.lifecyclePolicy,
        };
      }
      case 'BatchGetImage': {
        const repository = find('ecr', body);
        const images: unknown[] = [];
        const failures: unknown[] = [];
        for (const imageId of (body.imageIds ?? []) as {
          imageTag?: string;
          imageDigest?: string;
        }[]) {
          const image = imageId.imageDigest
            ? repository.images.get(imageId.imageDigest)
            : repository.tags.get(imageId.imageTag ?? '');
          if (!image) {
            failures.push({
              imageId,
              failureCode: 'ImageNotFound',
              failureReason: 'Requested image not found',
            });
            continue;
          }
          images.push({
            registryId: repository.registryId,
            repositoryName: repository.name,
            imageId: { ...imageId, imageDigest: image.digest },
            imageManifest: image.manifest,
            imageManifestMediaType: image.mediaType,
          });
        }
        return { images, failures };
      }
      case 'PutImage': {
        const repository = find('ecr', body);
        const manifest = String(body.imageManifest);
        const digest = sha256(manifest);
        if (typeof body.imageDigest === 'string' && body.imageDigest !== digest) {
          throw new AwsFault(
            'ImageDigestDoesNotMatchException',
            `The specified image digest '${body.imageDigest}' does not match the digest of the manifest`,
          );
        }
        const tag = typeof body.imageTag === 'string' ? body.imageTag : undefined;
        const current = tag ? repository.tags.get(tag) : repository.images.get(digest);
        if (current?.digest === digest) {
          throw new AwsFault(
            'ImageAlreadyExistsException',
            `Image with digest '${digest}' and tag '${tag ?? ''}' already exists in the repository with name '${repository.name}' in registry with id '${repository.registryId}'`,
          );
        }
        if (tag && current && repository.imageTagMutability === 'IMMUTABLE') {
          throw new AwsFault(
            'ImageTagAlreadyExistsException',
            `The image tag '${tag}' already exists in the '${repository.name}' repository and cannot be overwritten because the repository is immutable.`,
          );
        }
        const mediaType =
          typeof body.imageManifestMediaType === 'string'
            ? body.imageManifestMediaType
            : String((JSON.parse(manifest) as { mediaType?: string }).mediaType);
        const image = { manifest, mediaType, digest };
        repository.images.set(digest, image);
        if (tag) repository.tags.set(tag, image);
        return {
          image: {
            registryId: repository.registryId,
            repositoryName: repository.name,
            imageId: { imageDigest: digest, ...(tag ? { imageTag: tag } : {}) },
            imageManifest: manifest,
            imageManifestMediaType: mediaType,
          },
        };
      }
      default:
        throw new AwsFault('UnknownOperationException', `fake ECR: no ${operation}`);
    }
  };

  const ecrPublic = (operation: string, body: Record<string, unknown>): unknown => {
    switch (operation) {
      case 'GetAuthorizationToken':
        return { authorizationData: token() };
      case 'DescribeRepositories':
        return describeRepositories('ecr-public', body);
      case 'CreateRepository':
        return { ...createRepository('ecr-public', body), catalogData: {} };
      default:
        throw new AwsFault('UnknownOperationException', `fake ECR Public: no ${operation}`);
    }
  };

  const sts = (operation: string): string => {
    if (operation !== 'GetCallerIdentity') {
      throw new AwsFault('InvalidAction', `fake STS: no ${operation}`);
    }
    return [
      '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">',
      '  <GetCallerIdentityResult>',
      `    <Arn>arn:aws:sts::${settings.account}:assumed-role/ci/session</Arn>`,
      '    <UserId>AROATESTFAKEAWS:session</UserId>',
      `    <Account>${settings.account}</Account>`,
      '  </GetCallerIdentityResult>',
      '  <ResponseMetadata><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ResponseMetadata>',
      '</GetCallerIdentityResponse>',
    ].join('\n');
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const target = String(req.headers['x-amz-target'] ?? '');
      let service: FakeService;
      let operation: string;
      let body: Record<string, unknown>;
      if (target !== '') {
        const dot = target.lastIndexOf('.');
        const prefix = target.slice(0, dot);
        service = prefix === ECR_PUBLIC_TARGET_PREFIX ? 'ecr-public' : 'ecr';
        operation = target.slice(dot + 1);
        body = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
      } else {
        service = 'sts';
        body = Object.fromEntries(new URLSearchParams(text));
        operation = String(body.Action ?? '');
      }
      const scope = credentialScope(req.headers);
      region = scope.region ?? 'us-east-1';
      requests.push({
        service,
        operation,
        body,
        signedRegion: scope.region,
        signedService: scope.service,
        headers: req.headers,
      });
      const requestId = `fake-${requests.length}`;
      try {
        const faultKey = `${service} ${operation}`;
        const fault = faults.get(faultKey);
        if (fault) {
          if (fault.times !== undefined && --fault.times <= 0) faults.delete(faultKey);
          throw new AwsFault(fault.type, fault.message ?? fault.type, fault.status ?? 400);
        }
        const hooked = hooks.get(faultKey)?.(body);
        if (hooked) {
          throw new AwsFault(hooked.type, hooked.message ?? hooked.type, hooked.status ?? 400);
        }
        if (service === 'sts') {
          res.writeHead(200, { 'Content-Type': 'text/xml', 'x-amzn-requestid': requestId });
          res.end(sts(operation));
          return;
        }
        const answer = service === 'ecr' ? ecr(operation, body) : ecrPublic(operation, body);
        res.writeHead(200, {
          'Content-Type': 'application/x-amz-json-1.1',
          'x-amzn-requestid': requestId,
        });
        res.end(JSON.stringify(answer));
      } catch (error) {
        const fault =
          error instanceof AwsFault ? error : new AwsFault('InternalFailure', String(error), 500);
        if (service === 'sts') {
          res.writeHead(fault.status, {
            'Content-Type': 'text/xml',
            'x-amzn-requestid': requestId,
          });
          res.end(
            `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>${xmlEscape(fault.type)}</Code><Message>${xmlEscape(fault.message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
          );
          return;
        }
        res.writeHead(fault.status, {
          'Content-Type': 'application/x-amz-json-1.1',
          'x-amzn-requestid': requestId,
        });
        res.end(JSON.stringify({ __type: fault.type, message: fault.message }));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    calls: (service, operation) =>
      requests.filter(
        (request) =>
          request.service === service &&
          (operation === undefined || request.operation === operation),
      ),
    options: settings,
    repositories,
    addRepository,
    repository: (name, where = {}) => {
      const service = where.service ?? 'ecr';
      return repositories.get(
        key(service, where.registryId ?? settings.account, name, where.region ?? 'eu-west-1'),
      );
    },
    addImage,
    fail: (service, operation, fault) => faults.set(`${service} ${operation}`, { ...fault }),
    before: (service, operation, hook) => hooks.set(`${service} ${operation}`, hook),
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
