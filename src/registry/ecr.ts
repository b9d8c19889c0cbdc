// Amazon ECR: registry host names, the `ecr` registry alias, registry credentials from
// GetAuthorizationToken (what amazon-ecr-credential-helper and `aws ecr get-login-password`
// do, without a docker daemon), AWS errors turned into messages a user can act on, and a
// server-side retag (BatchGetImage + PutImage of the same manifest bytes).
//
// Product code never passes AWS credentials: the SDK's default chain finds them (env,
// web identity from aws-actions/configure-aws-credentials, SSO, profiles, instance roles).
import { createHash } from 'node:crypto';
import {
  BatchGetImageCommand,
  ECRClient,
  type ECRClientConfig,
  GetAuthorizationTokenCommand,
  PutImageCommand,
} from '@aws-sdk/client-ecr';
import {
  GetAuthorizationTokenCommand as GetPublicAuthorizationTokenCommand,
  type ECRPUBLICClient,
  type ECRPUBLICClientConfig,
} from '@aws-sdk/client-ecr-public';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { ConfigError, NameError, UserError } from '../core/errors.js';
import { parseReference, validateRepositoryPath, validateTag } from '../core/reference.js';
import type { ManifestDescriptor } from './client.js';
import { type Credential, type CredentialStore, canonicalHost } from './credentials.js';
import { ECR_PUBLIC_HOST, ecrPublicClient, isEcrPublic } from './ecr-public.js';

export { ECR_PUBLIC_HOST, isEcrPublic } from './ecr-public.js';

type Env = Readonly<Record<string, string | undefined>>;

export type AwsPartition = 'aws' | 'aws-cn' | 'aws-us-gov';

/** What an ECR registry host names. */
export interface EcrRegistry {
  /** The 12-digit AWS account id, which is also the registry id. */
  account: string;
  region: string;
  /** `dkr.ecr-fips.` hosts: FIPS 140 endpoints. */
  fips: boolean;
  partition: AwsPartition;
}

// <account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn], and the dual-stack
// <account>.dkr-ecr[-fips].<region>.on.aws (the host patterns amazon-ecr-credential-helper
// accepts, minus the isolated partitions).
const ECR_HOST =
  /^(\d{12})\.dkr([.-])ecr(-fips)?\.([a-z]{2}(?:-[a-z]+)+-\d+)\.(amazonaws\.com(?:\.cn)?|on\.aws)$/;

/**
 * Reads a private ECR registry host (`123456789012.dkr.ecr.eu-west-1.amazonaws.com`, also
 * with a scheme, a path or `:443`); undefined for any other host, ECR Public included.
 */
export function parseEcrHost(host: string): EcrRegistry | undefined {
  const match = ECR_HOST.exec(canonicalHost(host).replace(/:443$/, ''));
  if (!match) return undefined;
  const [, account = '', separator, fips, region = '', suffix = ''] = match;
  // `dkr.ecr.` goes with amazonaws.com, `dkr-ecr.` (dual-stack) with on.aws.
  if ((separator === '-') !== (suffix === 'on.aws')) return undefined;
  const partition: AwsPartition = suffix.endsWith('.cn')
    ? 'aws-cn'
    : region.startsWith('us-gov-')
      ? 'aws-us-gov'
      : 'aws';
  if ((partition === 'aws-cn') !== region.startsWith('cn-')) return undefined;
  return { account, region, fips: fips !== undefined, partition };
}

/** The registry host of an account and region: `.amazonaws.com.cn` in China regions. */
export function formatEcrHost(registry: {
  account: string;
  region: string;
  fips?: boolean;
}): string {
  const suffix = registry.region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
  return `${registry.account}.dkr.ecr${registry.fips ? '-fips' : ''}.${registry.region}.${suffix}`;
}

/** Whether a host is a private ECR registry or ECR Public. */
export function isEcrHost(host: string): boolean {
  return parseEcrHost(host) !== undefined || isEcrPublic(host);
}

export interface EcrRepositoryName {
  /** The registry host as written. */
  host: string;
  registry: EcrRegistry;
  /** The name the ECR API knows: the path after the host (`team/api`). */
  repositoryName: string;
}

/** `<ecr host>/<path>[:tag][@digest]` → registry and repository name; undefined if not ECR. */
export function parseEcrRepository(name: string): EcrRepositoryName | undefined {
  const ref = parseReference(name);
  const registry = parseEcrHost(ref.registry);
  return registry ? { host: ref.registry, registry, repositoryName: ref.path } : undefined;
}

// ---------------------------------------------------------------------------------------
// Errors

/** An AWS API call failed; the message says what was being done and how to fix it. */
export class AwsError extends UserError {
  /** The AWS error code (`AccessDeniedException`, `ExpiredTokenException`…). */
  readonly code: string;
  /** The IAM action of the call, e.g. `ecr:GetAuthorizationToken`. */
  readonly action: string;
  /** How many times the SDK sent the request, when it says. */
  readonly attempts: number | undefined;

  constructor(message: string, init: { code: string; action: string; attempts?: number }) {
    super(message);
    this.code = init.code;
    this.action = init.action;
    this.attempts = init.attempts;
  }
}

export interface AwsErrorContext {
  /** The IAM action of the call (`ecr:DescribeRepositories`). */
  action: string;
  /** What was being done, read after "cannot": `get an ECR token for 123….amazonaws.com`. */
  doing: string;
  /** Every IAM permission the call needs, when more than `action`. */
  permissions?: readonly string[];
}

const EXPIRED = new Set([
  'ExpiredTokenException',
  'ExpiredToken',
  'RequestExpired',
  'TokenRefreshRequired',
]);
const INVALID_CREDENTIALS = new Set([
  'UnrecognizedClientException',
  'InvalidClientTokenId',
  'InvalidSignatureException',
  'SignatureDoesNotMatch',
  'IncompleteSignature',
  'MissingAuthenticationToken',
  'InvalidAccessKeyId',
  'AuthFailure',
]);
const DENIED = new Set(['AccessDeniedException', 'AccessDenied', 'UnauthorizedOperation']);
const THROTTLED = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
  'LimitExceededException',
]);
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

interface SdkErrorLike {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  $metadata?: { attempts?: unknown; httpStatusCode?: unknown };
}

/** The AWS error code of an SDK error (its `name`), or of an AwsError. */
export function awsErrorCode(error: unknown): string | undefined {
  if (error instanceof AwsError) return error.code;
  if (typeof error !== 'object' || error === null) return undefined;
  const name = (error as SdkErrorLike).name;
  return typeof name === 'string' ? name : undefined;
}

/**
 * Turns an SDK error into an AwsError whose message names what failed and what to do:
 * expired or invalid credentials, a missing IAM permission, throttling that outlasted the
 * SDK's retries, no credentials at all, AWS out of reach. UserErrors pass through.
 */
export function awsError(error: unknown, context: AwsErrorContext): UserError {
  if (error instanceof UserError) return error;
  const sdk = (typeof error === 'object' && error !== null ? error : {}) as SdkErrorLike;
  const code = typeof sdk.name === 'string' && sdk.name !== 'Error' ? sdk.name : 'Error';
  const detail = typeof sdk.message === 'string' ? sdk.message : String(error);
  const attempts = typeof sdk.$metadata?.attempts === 'number' ? sdk.$metadata.attempts : undefined;
  const said = detail && detail !== code ? `${code}: ${detail}` : code;
  const head = `cannot ${context.doing}`;
  const permissions = context.permissions ?? [context.action];
  let message: string;
  if (EXPIRED.has(code)) {
    message =
      `${head}: the AWS credentials have expired (${said}). Refresh them: in GitHub Actions ` +
      're-run aws-actions/configure-aws-credentials (a longer role-duration-seconds helps long ' +
      'jobs), locally `aws sso login` or new keys.';
  } else if (INVALID_CREDENTIALS.has(code)) {
    message =
      `${head}: AWS does not accept the credentials (${said}). Check AWS_ACCESS_KEY_ID, ` +
      'AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN (or the profile or role in use), and the clock.';
  } else if (DENIED.has(code)) {
    message =
      `${head}: access denied for ${context.action} (${said}). The IAM role or user needs ` +
      `permission for ${permissions.join(' and ')}.`;
  } else if (THROTTLED.has(code)) {
    message =
      `${head}: AWS throttled ${context.action} (${said}) and it still failed after ` +
      `${attempts ?? 'several'} attempts with the SDK's backoff. Try again later, or run fewer ` +
      'jobs against this account at the same time.';
  } else if (code === 'CredentialsProviderError') {
    message =
      `${head}: no AWS credentials were found (${detail}). Configure them, e.g. with ` +
      'aws-actions/configure-aws-credentials in GitHub Actions, or AWS_PROFILE / ' +
      'AWS_ACCESS_KEY_ID locally.';
  } else if (
    code === 'TimeoutError' ||
    (typeof sdk.code === 'string' && NETWORK_CODES.has(sdk.code))
  ) {
    message = `${head}: AWS could not be reached (${said}).`;
  } else {
    message = `${head}: ${context.action} failed (${said}).`;
  }
  return new AwsError(message, { code, action: context.action, ...(attempts ? { attempts } : {}) });
}

// ---------------------------------------------------------------------------------------
// The `ecr` alias

/** Whether a configured registry is the `ecr` alias (`ecr` or `ecr/<namespace>`). */
export function isEcrAlias(value: string): boolean {
  return value === 'ecr' || value.startsWith('ecr/');
}

export interface ResolveEcrOptions {
  /** AWS_REGION / AWS_DEFAULT_REGION name the region; AWS_USE_FIPS_ENDPOINT=true picks FIPS. */
  env: Env;
  /** The STS client (default: one in the region, credentials from the default chain). */
  sts?: STSClient;
}

/**
 * Resolves the registry alias `ecr` (or `ecr/<namespace>`) to the caller's private
 * registry, `<account>.dkr.ecr.<region>.amazonaws.com[/namespace]`: the account from STS
 * GetCallerIdentity, the region from the environment. Other values come back unchanged.
 */
export async function resolveEcrRegistry(
  value: string,
  options: ResolveEcrOptions,
): Promise<string> {
  if (!isEcrAlias(value)) return value;
  const namespace = value === 'ecr' ? '' : value.slice('ecr/'.length);
  if (value !== 'ecr') {
    const problem = validateRepositoryPath(namespace);
    if (problem) throw new ConfigError(`registry "${value}": ${problem}`);
  }
  const region = options.env.AWS_REGION || options.env.AWS_DEFAULT_REGION;
  if (!region) {
    throw new ConfigError(
      `registry "${value}" needs an AWS region to name the ECR registry, and neither AWS_REGION ` +
        'nor AWS_DEFAULT_REGION is set: set AWS_REGION (aws-actions/configure-aws-credentials ' +
        'does, with its aws-region input), or write the registry in full, e.g. ' +
        '123456789012.dkr.ecr.eu-west-1.amazonaws.com',
    );
  }
  const sts = options.sts ?? new STSClient({ region });
  let account: string | undefined;
  try {
    account = (await sts.send(new GetCallerIdentityCommand({}))).Account;
  } catch (error) {
    throw awsError(error, {
      action: 'sts:GetCallerIdentity',
      doing: `find the AWS account for registry "${value}"`,
    });
  } finally {
    if (!options.sts) sts.destroy();
  }
  if (!account || !/^\d{12}$/.test(account)) {
    throw new UserError(
      `cannot find the AWS account for registry "${value}": STS GetCallerIdentity answered ` +
        `account ${JSON.stringify(account ?? null)}`,
    );
  }
  const fips = options.env.AWS_USE_FIPS_ENDPOINT?.toLowerCase() === 'true';
  const host = formatEcrHost({ account, region, fips });
  return namespace ? `${host}/${namespace}` : host;
}

// ---------------------------------------------------------------------------------------
// Clients and credentials

/** An ECR client per region (and FIPS choice), created on first use. */
export type EcrClientFactory = ((region: string, options?: { fips?: boolean }) => ECRClient) & {
  /** Closes every client made so far. */
  destroy(): void;
};

/**
 * Makes ECR clients, one per region, sharing `config` (tests give `endpoint` and
 * `credentials`; product code gives nothing and gets the default credential chain).
 */
export function ecrClients(config: Omit<ECRClientConfig, 'region'> = {}): EcrClientFactory {
  const clients = new Map<string, ECRClient>();
  const factory = (region: string, options: { fips?: boolean } = {}): ECRClient => {
    // The SDK refuses FIPS together with a custom endpoint, which then decides alone.
    const fips = (options.fips ?? false) && config.endpoint === undefined;
    const key = `${region}${fips ? ' fips' : ''}`;
    let client = clients.get(key);
    if (!client) {
      client = new ECRClient({ ...config, region, ...(fips ? { useFipsEndpoint: true } : {}) });
      clients.set(key, client);
    }
    return client;
  };
  return Object.assign(factory, {
    destroy(): void {
      for (const client of clients.values()) client.destroy();
      clients.clear();
    },
  });
}

export interface EcrCredentialsOptions {
  /** The ECR client of a registry's region (default: `ecrClients()`). */
  clientFor?: (region: string, options?: { fips?: boolean }) => ECRClient;
  /** Settings of the ECR Public client, which is always in us-east-1. */
  publicClientConfig?: Omit<ECRPUBLICClientConfig, 'region'>;
  /** Fetch a new token this long before the old one expires (default 15 minutes). */
  refreshMarginMs?: number;
  now?: () => number;
  /** Told every new secret (the password and the base64 token) so logs can hide it. */
  mask?: (secret: string) => void;
}

/** A CredentialStore for ECR hosts, holding SDK clients until `destroy()`. */
export interface EcrCredentialStore extends CredentialStore {
  destroy(): void;
}

interface Token {
  credential: { username: string; password: string };
  /** Epoch ms, if AWS said. */
  expiresAt: number | undefined;
}

interface CacheEntry {
  token: Promise<Token>;
  /** When to fetch again; unset while the request is under way. */
  refreshAt?: number;
}

const DEFAULT_REFRESH_MARGIN_MS = 15 * 60_000;
/** When AWS sends no expiry (it always does), ask again after an hour. */
const FALLBACK_LIFETIME_MS = 60 * 60_000;

/**
 * Registry credentials for ECR: a private registry host gets `AWS` and the password of
 * `GetAuthorizationToken` in the host's region (one token per region serves every
 * registry there the caller may use, other accounts' included); `public.ecr.aws` gets the
 * ECR Public token (signed in us-east-1). Tokens are cached until shortly before they
 * expire, and requests for the same token share one call. Other hosts: undefined.
 */
export function ecrCredentials(options: EcrCredentialsOptions = {}): EcrCredentialStore {
  return new EcrTokenStore(options);
}

class EcrTokenStore implements EcrCredentialStore {
  private readonly cache = new Map<string, CacheEntry>();
  private readonly ownClients?: EcrClientFactory;
  private readonly clientFor: (region: string, options?: { fips?: boolean }) => ECRClient;
  private publicClient?: ECRPUBLICClient;
  private readonly now: () => number;
  private readonly margin: number;

  constructor(private readonly options: EcrCredentialsOptions) {
    if (options.clientFor) {
      this.clientFor = options.clientFor;
    } else {
      this.ownClients = ecrClients();
      this.clientFor = this.ownClients;
    }
    this.now = options.now ?? Date.now;
    this.margin = options.refreshMarginMs ?? DEFAULT_REFRESH_MARGIN_MS;
  }

  async get(host: string): Promise<Credential | undefined> {
    const registry = parseEcrHost(host);
    if (registry) {
      const key = `${registry.region}${registry.fips ? ' fips' : ''}`;
      const token = await this.cached(key, () => this.privateToken(canonicalHost(host), registry));
      return { ...token.credential };
    }
    if (isEcrPublic(host)) {
      const token = await this.cached(ECR_PUBLIC_HOST, () => this.publicToken());
      return { ...token.credential };
    }
    return undefined;
  }

  destroy(): void {
    this.ownClients?.destroy();
    this.publicClient?.destroy();
    this.publicClient = undefined;
  }

  private cached(key: string, fetchToken: () => Promise<Token>): Promise<Token> {
    const entry = this.cache.get(key);
    if (entry && (entry.refreshAt === undefined || this.now() < entry.refreshAt)) {
      return entry.token;
    }
    const fetchedAt = this.now();
    const fresh: CacheEntry = { token: fetchToken() };
    this.cache.set(key, fresh);
    fresh.token.then(
      (token) => {
        const lifetime =
          token.expiresAt !== undefined ? token.expiresAt - fetchedAt : FALLBACK_LIFETIME_MS;
        // Keep at least half the lifetime, so a short-lived token is not fetched every time.
        fresh.refreshAt = fetchedAt + Math.max(lifetime - this.margin, lifetime / 2);
      },
      () => {
        if (this.cache.get(key) === fresh) this.cache.delete(key);
      },
    );
    return fresh.token;
  }

  private async privateToken(host: string, registry: EcrRegistry): Promise<Token> {
    const client = this.clientFor(registry.region, { fips: registry.fips });
    let data;
    try {
      data = (await client.send(new GetAuthorizationTokenCommand({}))).authorizationData?.[0];
    } catch (error) {
      throw awsError(error, {
        action: 'ecr:GetAuthorizationToken',
        doing: `get a registry token for ${host} (region ${registry.region})`,
      });
    }
    return this.decode(data?.authorizationToken, data?.expiresAt, host);
  }

  private async publicToken(): Promise<Token> {
    this.publicClient ??= ecrPublicClient(this.options.publicClientConfig);
    let data;
    try {
      data = (await this.publicClient.send(new GetPublicAuthorizationTokenCommand({})))
        .authorizationData;
    } catch (error) {
      throw awsError(error, {
        action: 'ecr-public:GetAuthorizationToken',
        doing: `get a registry token for ${ECR_PUBLIC_HOST} (ECR Public, region us-east-1)`,
        permissions: ['ecr-public:GetAuthorizationToken', 'sts:GetServiceBearerToken'],
      });
    }
    return this.decode(data?.authorizationToken, data?.expiresAt, ECR_PUBLIC_HOST);
  }

  /** The token is base64 `AWS:<password>`; the password goes to the registry as is. */
  private decode(token: string | undefined, expiresAt: Date | undefined, host: string): Token {
    const decoded = token ? Buffer.from(token, 'base64').toString('utf8') : '';
    const colon = decoded.indexOf(':');
    if (colon <= 0 || colon === decoded.length - 1) {
      throw new UserError(
        `cannot get a registry token for ${host}: AWS answered without a usable authorization token`,
      );
    }
    const credential = { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    if (this.options.mask && token) {
      this.options.mask(credential.password);
      this.options.mask(token);
    }
    const expires = expiresAt?.getTime();
    return {
      credential,
      expiresAt: expires !== undefined && Number.isFinite(expires) ? expires : undefined,
    };
  }
}

// ---------------------------------------------------------------------------------------
// Immutable tags

const IMMUTABLE_TEXT = /already exists|immutable|cannot be overwritten/i;

interface RegistryErrorLike {
  code?: unknown;
  errors?: unknown;
  url?: unknown;
  message?: unknown;
}

/**
 * Whether an error is ECR refusing to move a tag of an IMMUTABLE repository: the SDK's
 * `ImageTagAlreadyExistsException` (PutImage), or the registry API's `TAG_INVALID` on a
 * manifest PUT ("The image tag 'x' already exists in the 'y' repository and cannot be
 * overwritten because the repository is immutable"), also as a builder prints it
 * (`tag invalid: …`). The tag may still point at the very image being pushed: see
 * `confirmImmutableTag`.
 */
export function isImmutableTagError(error: unknown): boolean {
  if (awsErrorCode(error) === 'ImageTagAlreadyExistsException') return true;
  if (typeof error !== 'object' || error === null) {
    return typeof error === 'string' && /tag invalid:/i.test(error) && IMMUTABLE_TEXT.test(error);
  }
  const like = error as RegistryErrorLike;
  const entries = Array.isArray(like.errors)
    ? (like.errors as { code?: unknown; message?: unknown }[])
    : [];
  for (const entry of entries) {
    if (entry?.code !== 'TAG_INVALID') continue;
    const text = typeof entry.message === 'string' ? entry.message : '';
    if (IMMUTABLE_TEXT.test(text)) return true;
    // A bare TAG_INVALID from ECR: ECR sends it for nothing else on a valid tag.
    if (typeof like.url === 'string' && isEcrHost(like.url)) return true;
  }
  const message = typeof like.message === 'string' ? like.message : '';
  return /tag invalid:/i.test(message) && IMMUTABLE_TEXT.test(message);
}

/** The part of RegistryClient `confirmImmutableTag` needs. */
export interface ManifestHeader {
  headManifest(reference: string): Promise<ManifestDescriptor | undefined>;
}

/**
 * After an immutable-tag rejection: succeeds when `repository:tag` already points at
 * `digest` (the push was a repeat), and otherwise throws a UserError that says so.
 */
export async function confirmImmutableTag(
  client: ManifestHeader,
  repository: string,
  tag: string,
  digest: string,
): Promise<void> {
  const current = await client.headManifest(`${repository}:${tag}`);
  if (current?.digest === digest) return;
  throw new UserError(
    `${repository}:${tag} already exists and the repository's tags are IMMUTABLE: it points at ` +
      `${current?.digest ?? 'another image'}, not at ${digest}. Use a tag that changes with ` +
      'every build (such as the commit sha), or set the repository to MUTABLE.',
  );
}

// ---------------------------------------------------------------------------------------
// Retag through the ECR API

/** The manifest types BatchGetImage may return as stored (no conversion). */
export const ECR_MANIFEST_MEDIA_TYPES = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
] as const;

export interface EcrRetagOptions {
  /** A client in the repository's region. */
  client: ECRClient;
  /** The repository name the API knows (`team/api`, no host). */
  repositoryName: string;
  /** The account of the registry, when not the caller's. */
  registryId?: string;
  /** The image to tag: a tag (`staging`) or a digest (`sha256:…`). */
  sourceTagOrDigest: string;
  targetTag: string;
}

export interface EcrRetagResult {
  digest: string;
  mediaType: string;
  /** False when the target tag already pointed at the image. */
  changed: boolean;
}

const DIGEST = /^sha(256|384|512):[a-f0-9]+$/;

/**
 * Adds `targetTag` to an image of an ECR repository without moving a layer: BatchGetImage
 * fetches the manifest as stored, PutImage stores the same text and media type under the
 * new tag. A tag that already names the image (ImageAlreadyExistsException) is success.
 */
export async function ecrRetag(options: EcrRetagOptions): Promise<EcrRetagResult> {
  const { client, repositoryName, registryId, sourceTagOrDigest, targetTag } = options;
  const problem = validateTag(targetTag);
  if (problem) throw new NameError(problem);
  const where = `${registryId ? `${registryId}:` : ''}${repositoryName}`;
  const imageId = DIGEST.test(sourceTagOrDigest)
    ? { imageDigest: sourceTagOrDigest }
    : { imageTag: sourceTagOrDigest };
  let got;
  try {
    got = await client.send(
      new BatchGetImageCommand({
        ...(registryId ? { registryId } : {}),
        repositoryName,
        imageIds: [imageId],
        acceptedMediaTypes: [...ECR_MANIFEST_MEDIA_TYPES],
      }),
    );
  } catch (error) {
    throw awsError(error, {
      action: 'ecr:BatchGetImage',
      doing: `read ${where}:${sourceTagOrDigest} to tag it ${targetTag}`,
    });
  }
  const image = got.images?.[0];
  if (!image?.imageManifest) {
    const failure = got.failures?.[0];
    const reason = failure
      ? `${failure.failureCode ?? 'failure'}: ${failure.failureReason ?? ''}`.trim()
      : 'no image returned';
    throw new UserError(
      `cannot tag ${where}:${sourceTagOrDigest} as ${targetTag}: the image was not found (${reason})`,
    );
  }
  const manifest = image.imageManifest;
  const digest = `sha256:${createHash('sha256').update(manifest, 'utf8').digest('hex')}`;
  const announced = image.imageId?.imageDigest;
  if (announced && announced.startsWith('sha256:') && announced !== digest) {
    throw new UserError(
      `cannot tag ${where}:${sourceTagOrDigest} as ${targetTag}: the manifest ECR returned hashes ` +
        `to ${digest}, not ${announced}`,
    );
  }
  const mediaType =
    image.imageManifestMediaType ??
    (JSON.parse(manifest) as { mediaType?: string }).mediaType ??
    '';
  try {
    const put = await client.send(
      new PutImageCommand({
        ...(registryId ? { registryId } : {}),
        repositoryName,
        imageManifest: manifest,
        imageManifestMediaType: mediaType,
        imageTag: targetTag,
        imageDigest: announced ?? digest,
      }),
    );
    return {
      digest: put.image?.imageId?.imageDigest ?? announced ?? digest,
      mediaType,
      changed: true,
    };
  } catch (error) {
    if (awsErrorCode(error) === 'ImageAlreadyExistsException') {
      return { digest: announced ?? digest, mediaType, changed: false };
    }
    if (awsErrorCode(error) === 'ImageTagAlreadyExistsException') {
      throw new AwsError(
        `cannot tag ${where}:${sourceTagOrDigest} as ${targetTag}: ${targetTag} already names ` +
          "another image and the repository's tags are IMMUTABLE. Use a new tag, or set the " +
          'repository to MUTABLE.',
        { code: 'ImageTagAlreadyExistsException', action: 'ecr:PutImage' },
      );
    }
    throw awsError(error, {
      action: 'ecr:PutImage',
      doing: `tag ${where}:${sourceTagOrDigest} as ${targetTag}`,
    });
  }
}
