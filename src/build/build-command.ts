// The effects around a build: credentials in a private file, a scratch folder, the
// registry client and the builders; all removed at the end, also on failure or signal.
import { access as fsAccess, mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { exec } from '../adapters/exec.js';
import { Git } from '../adapters/git.js';
import { chooseBuilder } from '../builders/auto.js';
import { BuildahBuilder, buildahSettings } from '../builders/buildah.js';
import { BuildxBuilder, buildxSettings } from '../builders/buildx.js';
import { KanikoBuilder, kanikoSettings } from '../builders/kaniko.js';
import { DEFAULT_PACK_SETTINGS, PackBuilder } from '../builders/pack.js';
import type { Builder, Exec } from '../builders/types.js';
import type { Settings } from '../config/settings.js';
import { UserError } from '../core/errors.js';
import type { PlannedImage } from '../core/plan.js';
import { parseReference } from '../core/reference.js';
import type { BuilderName, Config } from '../core/types.js';
import type { Host } from '../host/host.js';
import type { PlanResult } from '../make-plan.js';
import { RegistryClient } from '../registry/client.js';
import type { CredentialStore } from '../registry/credentials.js';
import { writeAuthFile } from '../registry/credentials.js';
import { ecrClients, ecrCredentials, isEcrHost } from '../registry/ecr.js';
import { isEcrPublic } from '../registry/ecr-public.js';
import { keychain } from '../registry/keychain.js';
import { BlobLocations, pushDirectory } from '../registry/push-directory.js';
import { RetryTally } from '../registry/retry-tally.js';
import { checkRepositories } from '../registry/repositories.js';
import type { BuildOutcome } from './run-build.js';
import { runBuild, tagResolver } from './run-build.js';

type Env = Record<string, string | undefined>;

const LOOPBACK = /^(localhost|127(\.\d+){3}|\[::1\])(:\d+)?$/;

/** Registries reached over plain HTTP: loopback always, others only when configured. */
export function insecureFor(
  registries: Readonly<Record<string, { insecure: boolean }>>,
): (host: string) => boolean {
  return (host) => LOOPBACK.test(host) || registries[host]?.insecure === true;
}

/**
 * One backend per builder name for the run; `auto` is decided once per image kind, and the
 * choice and its reason are logged.
 */
async function chooseBuilders(
  images: readonly PlannedImage[],
  config: Config,
  env: Env,
  execute: Exec,
  registry: RegistryClient,
  host: Host,
): Promise<Map<string, Builder>> {
  const backends = new Map<BuilderName, Builder>();
  const backend = (name: Exclude<BuilderName, 'auto'>): Builder => {
    let builder = backends.get(name);
    if (builder === undefined) {
      if (name === 'buildah') {
        const locations = new BlobLocations();
        builder = new BuildahBuilder(buildahSettings(env), async (dir, reference, log) => {
          const target = parseReference(reference);
          if (target.tag === undefined) throw new Error(`${reference} names no tag to push to`);
          const pushed = await pushDirectory(
            registry,
            dir,
            { ...target, tag: target.tag },
            { locations },
          );
          log(
            `${reference}: ${pushed.blobsUploaded} blob(s) uploaded (${(pushed.bytesUploaded / 1e6).toFixed(1)} MB), ${pushed.blobsMounted} mounted, ${pushed.blobsPresent} already there`,
          );
          return pushed.digest;
        });
      } else if (name === 'buildx') {
        builder = new BuildxBuilder(
          buildxSettings(env, {
            cache: config.cache,
            ...(config.buildx.provenance !== undefined
              ? { provenance: config.buildx.provenance }
              : {}),
            ...(config.buildx.sbom !== undefined ? { sbom: config.buildx.sbom } : {}),
          }),
        );
      } else if (name === 'kaniko') {
        builder = new KanikoBuilder(
          kanikoSettings(env, {
            ...(config.kaniko.executor !== undefined ? { executor: config.kaniko.executor } : {}),
            // Kaniko has no GitHub Actions cache: only the registry one.
            cache: config.cache === 'registry',
            // Several images in one Kaniko container: clean its filesystem between builds.
            cleanup: images.length > 1,
          }),
        );
      } else {
        builder = new PackBuilder({
          ...DEFAULT_PACK_SETTINGS,
          ...(config.pack.builder !== undefined ? { builder: config.pack.builder } : {}),
          ...(config.pack.lifecycleVersion !== undefined
            ? { lifecycleVersion: config.pack.lifecycleVersion }
            : {}),
          env: config.pack.env,
          // pack's cache image lives in the registry; there is no GitHub Actions cache for it.
          cache: config.cache === 'registry',
          resolveDigest: async (ref) => {
            const found = await registry.headManifest(ref);
            if (!found)
              throw new UserError(`pack published ${ref}, but the registry does not have it`);
            return found.digest;
          },
        });
      }
      backends.set(name, builder);
    }
    return builder;
  };
  const automatic = new Map<string, Promise<Exclude<BuilderName, 'auto'>>>();
  const chosen = new Map<string, Builder>();
  for (const image of images) {
    let name: Exclude<BuilderName, 'auto'>;
    if (image.builder !== 'auto') {
      name = image.builder;
    } else {
      let choice = automatic.get(image.kind);
      if (choice === undefined) {
        choice = chooseBuilder({
          env,
          exec: execute,
          fileExists,
          kind: image.kind,
          ...(config.kaniko.executor !== undefined
            ? { kanikoExecutor: config.kaniko.executor }
            : {}),
        }).then((found) => {
          host.info(`builder: ${found.name} for ${image.kind} images (${found.reason})`);
          return found.name;
        });
        automatic.set(image.kind, choice);
      }
      name = await choice;
    }
    chosen.set(image.name, backend(name));
  }
  return chosen;
}

async function fileExists(file: string): Promise<boolean> {
  try {
    await fsAccess(file);
    return true;
  } catch {
    return false;
  }
}

/**
 * `git merge-base --is-ancestor` for the latest guard. The commit a moving tag points at
 * may be missing from this clone (a later push's run finished first, or a shallow clone):
 * it is fetched, so the older run sees it is older instead of moving the tag back.
 */
function ancestryIn(git: Git): (ancestor: string, descendant: string) => Promise<boolean> {
  return async (ancestor, descendant) => {
    for (const sha of [ancestor, descendant]) {
      if (!(await git.hasCommit(sha))) await git.fetchCommit(sha);
    }
    return git.isAncestor(ancestor, descendant);
  };
}

/** Removes the run's private files even when the process is interrupted. */
function onInterrupt(cleanup: () => Promise<void>): () => void {
  const handler = (signal: NodeJS.Signals): void => {
    void cleanup().finally(() => process.kill(process.pid, signal));
  };
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}

/** Credentials and a registry client for the repositories a run touches. */
export interface RegistryAccess {
  credentials: CredentialStore;
  client: RegistryClient;
  insecure: (host: string) => boolean;
  /** Logs how many registry requests had to be retried; releases the AWS clients. */
  close(): void;
}

export function registryAccess(
  repositories: readonly string[],
  config: Config,
  settings: Settings,
  host: Host,
  env: Env,
): RegistryAccess {
  const targets = [
    ...new Set(repositories.map((repository) => parseReference(repository).registry)),
  ];
  if (settings.registryPassword !== undefined) host.mask(settings.registryPassword);
  const needsEcr = targets.some((target) => isEcrHost(target) || isEcrPublic(target));
  const ecr = needsEcr ? ecrCredentials({ mask: (secret) => host.mask(secret) }) : undefined;
  const credentials = keychain({
    env,
    ...(settings.registryUsername !== undefined && settings.registryPassword !== undefined
      ? {
          explicit: {
            hosts: targets,
            username: settings.registryUsername,
            password: settings.registryPassword,
          },
        }
      : {}),
    ...(settings.githubToken !== undefined ? { githubToken: settings.githubToken } : {}),
    ...(ecr ? { ecr } : {}),
  });
  const insecure = insecureFor(config.registries);
  const retries = new RetryTally();
  return {
    credentials,
    client: new RegistryClient({
      credentials,
      insecure,
      onRetry: (info) => host.info(retries.record(info)),
    }),
    insecure,
    close: () => {
      const summary = retries.summary();
      if (summary !== undefined) host.info(summary);
      ecr?.destroy();
    },
  };
}

/** Seed 000's "confirm the repositories line up": every ECR target exists, or is created. */
export async function ensureRepositories(
  repositories: readonly string[],
  config: Config,
  host: Host,
): Promise<void> {
  const ecrTargets = repositories.filter((repository) => {
    const registry = parseReference(repository).registry;
    return isEcrHost(registry) || isEcrPublic(registry);
  });
  if (ecrTargets.length === 0) return;
  const clients = ecrClients();
  try {
    const result = await checkRepositories({
      repositories: ecrTargets,
      create: config.ecr.createRepositories,
      settings: {
        scanOnPush: config.ecr.scanOnPush,
        ...(config.ecr.tagMutability !== undefined
          ? { tagMutability: config.ecr.tagMutability }
          : {}),
        ...(config.ecr.lifecyclePolicy !== undefined
          ? { lifecyclePolicy: config.ecr.lifecyclePolicy }
          : {}),
      },
      clientFor: clients,
    });
    for (const created of result.created) host.info(`created ECR repository ${created}`);
  } finally {
    clients.destroy();
  }
}

export async function buildPlan(
  result: PlanResult,
  settings: Settings,
  host: Host,
  env: Env,
  execute: Exec = exec,
): Promise<BuildOutcome> {
  const { plan, config } = result;
  const repositories = plan.images.map((image) => image.repository);
  await ensureRepositories(repositories, config, host);
  const access = registryAccess(repositories, config, settings, host, env);

  // The builder also pulls parents and bases: give it what we have for those hosts too.
  const hosts = new Set(repositories.map((repository) => parseReference(repository).registry));
  for (const { info } of result.dockerfiles.values()) {
    for (const use of info.uses) hosts.add(use.reference.registry);
  }
  const entries: Record<string, { username: string; password: string }> = {};
  for (const registryHost of hosts) {
    const found = await access.credentials.get(registryHost).catch(() => undefined);
    if (found && 'username' in found) {
      host.mask(found.password);
      entries[registryHost] = found;
    }
  }

  // GitHub's runner temp folder is emptied after every job, whatever happens to this process.
  const temp = env.RUNNER_TEMP || env.TMPDIR || tmpdir();
  const authFile = await writeAuthFile(entries, temp);
  const workDir = await mkdtemp(path.join(temp, 'image-builder-build-'));
  host.removeLater(authFile.dir);
  host.removeLater(workDir);
  const cleanup = async (): Promise<void> => {
    await authFile.remove();
    await rm(workDir, { recursive: true, force: true });
  };
  const stopWatching = onInterrupt(cleanup);
  try {
    const builders = await chooseBuilders(plan.images, config, env, execute, access.client, host);
    // Kaniko builds one image at a time in its container.
    const serial = [...builders.values()].some(
      (builder) => 'requiresSerialBuilds' in builder && builder.requiresSerialBuilds === true,
    );
    return await runBuild({
      plan,
      repoDir: settings.repoDir,
      dockerfiles: result.dockerfiles,
      filters: result.filters,
      registry: access.client,
      builderFor: (image) => builders.get(image.name) as Builder,
      exec: execute,
      authFile: authFile.path,
      insecure: access.insecure,
      workDir,
      maxParallel: serial
        ? 1
        : (settings.maxParallel ?? config.maxParallel ?? availableParallelism()),
      ...(result.event.repositoryUrl !== undefined
        ? { sourceUrl: result.event.repositoryUrl }
        : {}),
      now: new Date(),
      log: (line) => host.info(line),
      resolveTag: tagResolver(access.client),
      group: (title, body) => host.group(title, body),
      publish: config.publish,
      buildahSettings: () => buildahSettings(env),
      isAncestor: ancestryIn(new Git(settings.repoDir)),
    });
  } finally {
    stopWatching();
    access.close();
    await cleanup();
  }
}
