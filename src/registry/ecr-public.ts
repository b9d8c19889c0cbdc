// Amazon ECR Public (`public.ecr.aws/<alias>/<name>`): its API lives in us-east-1 only
// (https://docs.aws.amazon.com/AmazonECR/latest/public/public-registries.html), tokens
// included, wherever the caller runs. Token fetching and repository checks use these helpers
// from ecr.ts and repositories.ts.
import { ECRPUBLICClient, type ECRPUBLICClientConfig } from '@aws-sdk/client-ecr-public';
import { canonicalHost } from './credentials.js';

export const ECR_PUBLIC_HOST = 'public.ecr.aws';

/** The only region of the ECR Public API: every request is signed for it. */
export const ECR_PUBLIC_REGION = 'us-east-1';

/** Whether a registry host (or `auths` key, or full repository name) is ECR Public. */
export function isEcrPublic(host: string): boolean {
  return canonicalHost(host).replace(/:443$/, '') === ECR_PUBLIC_HOST;
}

/**
 * An ECR Public API client, always in us-east-1; credentials from the default chain
 * unless `config` gives them. `config.region` is ignored on purpose.
 */
export function ecrPublicClient(
  config: Omit<ECRPUBLICClientConfig, 'region'> = {},
): ECRPUBLICClient {
  return new ECRPUBLICClient({ ...config, region: ECR_PUBLIC_REGION });
}

export interface EcrPublicRepository {
  /** The registry alias, e.g. `acme` of `public.ecr.aws/acme/api`. */
  alias: string;
  /** The repository name the API knows: the path after the alias (`api`, `team/api`). */
  name: string;
}

/**
 * `public.ecr.aws/<alias>/<name…>` (tag or digest allowed) → alias and repository name;
 * undefined for other registries or a name without a repository part.
 */
export function parseEcrPublicRepository(repository: string): EcrPublicRepository | undefined {
  const withoutScheme = repository.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  const slash = withoutScheme.indexOf('/');
  if (slash === -1 || !isEcrPublic(withoutScheme.slice(0, slash))) return undefined;
  let path = withoutScheme.slice(slash + 1);
  const at = path.indexOf('@');
  if (at !== -1) path = path.slice(0, at);
  const colon = path.lastIndexOf(':');
  if (colon > path.lastIndexOf('/')) path = path.slice(0, colon);
  const [alias, ...rest] = path.split('/');
  if (!alias || rest.length === 0 || rest.some((part) => part === '')) return undefined;
  return { alias, name: rest.join('/') };
}
