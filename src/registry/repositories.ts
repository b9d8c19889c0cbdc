// Before anything is pushed: do the ECR repositories exist? ECR, unlike most registries,
// refuses a push to a repository nobody created. Missing ones are either reported all at
// once, with the fix, or created with the configured settings (scan on push, tag
// mutability, lifecycle policy). Creation is idempotent: a repository that a concurrent run
// created in the meantime counts as there.
import {
  CreateRepositoryCommand,
  DescribeRepositoriesCommand,
  type ECRClient,
  PutLifecyclePolicyCommand,
} from '@aws-sdk/client-ecr';
import {
  CreateRepositoryCommand as CreatePublicRepositoryCommand,
  DescribeRepositoriesCommand as DescribePublicRepositoriesCommand,
  type ECRPUBLICClient,
} from '@aws-sdk/client-ecr-public';
import { ConfigError, UserError } from '../core/errors.js';
import { parseReference, repositoryOf } from '../core/reference.js';
import { type EcrRegistry, awsError, awsErrorCode, parseEcrHost } from './ecr.js';
import {
  ECR_PUBLIC_HOST,
  ecrPublicClient,
  isEcrPublic,
  parseEcrPublicRepository,
} from './ecr-public.js';

export interface RepositorySettings {
  scanOnPush?: boolean;
  tagMutability?: 'MUTABLE' | 'IMMUTABLE';
  /** A lifecycle policy, as JSON text (https://docs.aws.amazon.com/AmazonECR/latest/userguide/LifecyclePolicies.html). */
  lifecyclePolicy?: string;
}

export interface CheckRepositoriesOptions {
  /** Full repository names (`123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/api`); a tag or digest is ignored. */
  repositories: readonly string[];
  /** Create the missing ones (otherwise: one UserError naming them all). */
  create: boolean;
  /** For created private repositories; ECR Public has none of these. */
  settings?: RepositorySettings;
  /** The ECR client of a region (e.g. `ecrClients()`). */
  clientFor: (region: string, options?: { fips?: boolean }) => ECRClient;
  /** The ECR Public client (default: one in us-east-1, closed afterwards). */
  publicClient?: ECRPUBLICClient;
  /** Creations in flight at once (default 4). */
  concurrency?: number;
}

export interface RepositoryCheckResult {
  /** Repositories that were there, including any a concurrent run created meanwhile. */
  existing: string[];
  /** Repositories that were not there when checked (with `create`, since created). */
  missing: string[];
  /** Repositories this call created. */
  created: string[];
  /** Repositories outside ECR: nothing to check. */
  skipped: string[];
}

/** Some ECR repositories do not exist and `create` was false. */
export class MissingRepositoriesError extends UserError {
  readonly missing: string[];

  constructor(missing: { name: string; hint: string }[]) {
    const count = missing.length;
    super(
      `${count} ECR ${count === 1 ? 'repository does' : 'repositories do'} not exist:\n` +
        missing.map((entry) => `  - ${entry.name}`).join('\n') +
        '\nSet `ecr.create-repositories: true` in image-builder.yml to have them created ' +
        '(needs ecr:CreateRepository), or create them, e.g.\n' +
        missing.map((entry) => `  ${entry.hint}`).join('\n'),
    );
    this.missing = missing.map((entry) => entry.name);
  }
}

/** DescribeRepositories takes at most 100 names. */
const BATCH = 100;
/** The largest page DescribeRepositories gives when listing a registry. */
const LIST_PAGE = 1000;

/** One registry's repositories as its API sees them (ECR private or ECR Public). */
interface RegistryApi {
  service: 'ecr' | 'ecr-public';
  /** The registry host, for messages. */
  label: string;
  /** Describes exactly these names; throws the SDK error (RepositoryNotFoundException…). */
  describe(names: string[]): Promise<void>;
  /** Every repository name of the registry. */
  list(): Promise<Set<string>>;
  /** Creates one; false when it already exists. */
  create(name: string): Promise<boolean>;
  /** The command that creates one by hand. */
  hint(name: string): string;
}

interface Group {
  api: RegistryApi;
  /** API repository name → full name as given. */
  names: Map<string, string>;
}

/**
 * Checks that every ECR repository exists: DescribeRepositories per registry in batches of
 * 100 names, and, when a batch names a missing one, a listing of the registry (one call
 * per 1000 repositories, far fewer calls than describing 100 names one by one), or one by
 * one where listing is not allowed. Then either throws one MissingRepositoriesError naming
 * every missing repository, or creates them (`create`). Non-ECR repositories are skipped.
 */
export async function checkRepositories(
  options: CheckRepositoriesOptions,
): Promise<RepositoryCheckResult> {
  const settings = options.settings ?? {};
  if (settings.lifecyclePolicy !== undefined) {
    try {
      JSON.parse(settings.lifecyclePolicy);
    } catch (error) {
      throw new ConfigError(`ecr.lifecycle-policy is not valid JSON: ${(error as Error).message}`);
    }
  }
  const result: RepositoryCheckResult = { existing: [], missing: [], created: [], skipped: [] };
  const groups = new Map<string, Group>();
  let ownPublicClient: ECRPUBLICClient | undefined;
  const publicClient = (): ECRPUBLICClient =>
    options.publicClient ?? (ownPublicClient ??= ecrPublicClient());
  // Full name → its place in the input: every list of the result keeps that order.
  const position = new Map<string, number>();
  const byInput = (a: string, b: string): number => (position.get(a) ?? 0) - (position.get(b) ?? 0);

  for (const input of options.repositories) {
    const name = repositoryOf(parseReference(input));
    if (position.has(name)) continue;
    position.set(name, position.size);
    const host = name.slice(0, name.indexOf('/'));
    const registry = parseEcrHost(host);
    if (registry) {
      const key = `${registry.account} ${registry.region} ${registry.fips}`;
      let group = groups.get(key);
      if (!group) {
        group = {
          api: privateApi(
            options.clientFor(registry.region, { fips: registry.fips }),
            host,
            registry,
            settings,
          ),
          names: new Map(),
        };
        groups.set(key, group);
      }
      group.names.set(name.slice(name.indexOf('/') + 1), name);
      continue;
    }
    const publicName = isEcrPublic(name) ? parseEcrPublicRepository(name) : undefined;
    if (publicName) {
      let group = groups.get(ECR_PUBLIC_HOST);
      if (!group) {
        group = { api: publicApi(publicClient), names: new Map() };
        groups.set(ECR_PUBLIC_HOST, group);
      }
      group.names.set(publicName.name, name);
      continue;
    }
    result.skipped.push(name);
  }

  try {
    const missing: { group: Group; name: string; full: string }[] = [];
    for (const group of groups.values()) {
      const absent = await findMissing(group.api, [...group.names.keys()]);
      for (const [name, full] of group.names) {
        if (absent.has(name)) missing.push({ group, name, full });
        else result.existing.push(full);
      }
    }
    missing.sort((a, b) => byInput(a.full, b.full));
    result.missing.push(...missing.map((entry) => entry.full));
    if (missing.length > 0 && !options.create) {
      throw new MissingRepositoriesError(
        missing.map(({ group, name, full }) => ({ name: full, hint: group.api.hint(name) })),
      );
    }
    await forEachLimited(missing, options.concurrency ?? 4, async ({ group, name, full }) => {
      if (await group.api.create(name)) result.created.push(full);
      else result.existing.push(full);
    });
    // Keep the order of the input, whatever order registries answered or creations finished in.
    for (const list of [result.existing, result.created, result.skipped]) list.sort(byInput);
    return result;
  } finally {
    ownPublicClient?.destroy();
  }
}

/** The names (of `names`) the registry does not have. */
async function findMissing(api: RegistryApi, names: string[]): Promise<Set<string>> {
  const missing = new Set<string>();
  let listing: Set<string> | undefined;
  let listingDenied = false;
  for (let start = 0; start < names.length; start += BATCH) {
    const batch = names.slice(start, start + BATCH);
    try {
      await api.describe(batch);
      continue;
    } catch (error) {
      if (awsErrorCode(error) !== 'RepositoryNotFoundException') throw describeError(api, error);
    }
    // At least one of the batch is missing: which, the registry's listing tells.
    if (!listingDenied && listing === undefined) {
      try {
        listing = await api.list();
      } catch (error) {
        const code = awsErrorCode(error);
        if (code !== 'AccessDeniedException' && code !== 'AccessDenied') {
          throw describeError(api, error);
        }
        // Permissions scoped to some repositories cannot list: describe each instead.
        listingDenied = true;
      }
    }
    if (listing) {
      for (const name of batch) if (!listing.has(name)) missing.add(name);
      continue;
    }
    for (const name of batch) {
      try {
        await api.describe([name]);
      } catch (error) {
        if (awsErrorCode(error) !== 'RepositoryNotFoundException') {
          throw describeError(api, error);
        }
        missing.add(name);
      }
    }
  }
  return missing;
}

function describeError(api: RegistryApi, error: unknown): UserError {
  return awsError(error, {
    action: `${api.service}:DescribeRepositories`,
    doing: `check the repositories of ${api.label}`,
  });
}

function privateApi(
  client: ECRClient,
  host: string,
  registry: EcrRegistry,
  settings: RepositorySettings,
): RegistryApi {
  const registryId = registry.account;
  const label = host;
  return {
    service: 'ecr',
    label,
    async describe(names) {
      let nextToken: string | undefined;
      do {
        const page = await client.send(
          new DescribeRepositoriesCommand({
            registryId,
            repositoryNames: names,
            ...(nextToken ? { nextToken } : {}),
          }),
        );
        nextToken = page.nextToken;
      } while (nextToken);
    },
    async list() {
      const all = new Set<string>();
      let nextToken: string | undefined;
      do {
        const page = await client.send(
          new DescribeRepositoriesCommand({
            registryId,
            maxResults: LIST_PAGE,
            ...(nextToken ? { nextToken } : {}),
          }),
        );
        for (const repository of page.repositories ?? []) {
          if (repository.repositoryName) all.add(repository.repositoryName);
        }
        nextToken = page.nextToken;
      } while (nextToken);
      return all;
    },
    async create(name) {
      try {
        await client.send(
          new CreateRepositoryCommand({
            registryId,
            repositoryName: name,
            ...(settings.tagMutability !== undefined
              ? { imageTagMutability: settings.tagMutability }
              : {}),
            ...(settings.scanOnPush !== undefined
              ? { imageScanningConfiguration: { scanOnPush: settings.scanOnPush } }
              : {}),
          }),
        );
      } catch (error) {
        // A concurrent run created it first: it is there, which is all that was asked.
        if (awsErrorCode(error) === 'RepositoryAlreadyExistsException') return false;
        throw awsError(error, {
          action: 'ecr:CreateRepository',
          doing: `create the repository ${label}/${name}`,
        });
      }
      if (settings.lifecyclePolicy !== undefined) {
        try {
          await client.send(
            new PutLifecyclePolicyCommand({
              registryId,
              repositoryName: name,
              lifecyclePolicyText: settings.lifecyclePolicy,
            }),
          );
        } catch (error) {
          throw awsError(error, {
            action: 'ecr:PutLifecyclePolicy',
            doing: `set the lifecycle policy of the new repository ${label}/${name}`,
          });
        }
      }
      return true;
    },
    hint: (name) =>
      `aws ecr create-repository --repository-name ${name} --region ${registry.region}` +
      (settings.tagMutability ? ` --image-tag-mutability ${settings.tagMutability}` : '') +
      (settings.scanOnPush ? ' --image-scanning-configuration scanOnPush=true' : ''),
  };
}

/** ECR Public, the caller's own registry (the alias in the name is not the API's). */
function publicApi(client: () => ECRPUBLICClient): RegistryApi {
  return {
    service: 'ecr-public',
    label: ECR_PUBLIC_HOST,
    async describe(names) {
      let nextToken: string | undefined;
      do {
        const page = await client().send(
          new DescribePublicRepositoriesCommand({
            repositoryNames: names,
            ...(nextToken ? { nextToken } : {}),
          }),
        );
        nextToken = page.nextToken;
      } while (nextToken);
    },
    async list() {
      const all = new Set<string>();
      let nextToken: string | undefined;
      do {
        const page = await client().send(
          new DescribePublicRepositoriesCommand({
            maxResults: LIST_PAGE,
            ...(nextToken ? { nextToken } : {}),
          }),
        );
        for (const repository of page.repositories ?? []) {
          if (repository.repositoryName) all.add(repository.repositoryName);
        }
        nextToken = page.nextToken;
      } while (nextToken);
      return all;
    },
    async create(name) {
      try {
        await client().send(new CreatePublicRepositoryCommand({ repositoryName: name }));
        return true;
      } catch (error) {
        if (awsErrorCode(error) === 'RepositoryAlreadyExistsException') return false;
        throw awsError(error, {
          action: 'ecr-public:CreateRepository',
          doing: `create the ECR Public repository ${name}`,
        });
      }
    },
    hint: (name) => `aws ecr-public create-repository --repository-name ${name} --region us-east-1`,
  };
}

async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  run: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (next < items.length && !failure) {
      const item = items[next++] as T;
      try {
        await run(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failure) throw failure.error;
}
