// The effects around a build: credentials in a private file, a scratch folder, the
// registry client and the builders; all removed at the end, also on failure or signal.
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { exec } from '../adapters/exec.js';
import { BuildahBuilder, buildahSettings } from '../builders/buildah.js';
import type { Builder } from '../builders/types.js';
import type { Settings } from '../config/settings.js';
import { UserError } from '../core/errors.js';
import type { PlannedImage } from '../core/plan.js';
import { parseReference } from '../core/reference.js';
import type { Host } from '../host/host.js';
import type { PlanResult } from '../make-plan.js';
import { RegistryClient } from '../registry/client.js';
import {
  chainCredentials,
  dockerConfigCredentials,
  staticCredentials,
  writeAuthFile,
} from '../registry/credentials.js';
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

function builderFor(env: Env): (image: PlannedImage) => Builder {
  const buildah = new BuildahBuilder(buildahSettings(env));
  return (image) => {
    if (image.builder === 'auto' || image.builder === 'buildah') return buildah;
    throw new UserError(
      `image "${image.name}": builder ${image.builder} is not available in this version; use buildah`,
    );
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

export async function buildPlan(
  result: PlanResult,
  settings: Settings,
  host: Host,
  env: Env,
): Promise<BuildOutcome> {
  const { plan, config } = result;
  const hosts = new Set(plan.images.map((image) => parseReference(image.repository).registry));
  for (const { info } of result.dockerfiles.values())
    for (const use of info.uses) hosts.add(use.reference.registry);

  const explicit: Record<string, { username: string; password: string }> = {};
  if (settings.registryUsername !== undefined && settings.registryPassword !== undefined) {
    host.mask(settings.registryPassword);
    for (const image of plan.images) {
      explicit[parseReference(image.repository).registry] = {
        username: settings.registryUsername,
        password: settings.registryPassword,
      };
    }
  }
  const credentials = chainCredentials([
    staticCredentials(explicit),
    dockerConfigCredentials({ env }),
  ]);
  const entries: Record<string, { username: string; password: string }> = {};
  for (const registryHost of hosts) {
    const found = await credentials.get(registryHost);
    if (found && 'username' in found) {
      host.mask(found.password);
      entries[registryHost] = found;
    }
  }

  const authFile = await writeAuthFile(entries);
  const workDir = await mkdtemp(path.join(tmpdir(), 'image-builder-build-'));
  const cleanup = async (): Promise<void> => {
    await authFile.remove();
    await rm(workDir, { recursive: true, force: true });
  };
  const stopWatching = onInterrupt(cleanup);
  try {
    const insecure = insecureFor(config.registries);
    const registry = new RegistryClient({ credentials, insecure });
    return await runBuild({
      plan,
      repoDir: settings.repoDir,
      dockerfiles: result.dockerfiles,
      filters: result.filters,
      registry,
      builderFor: builderFor(env),
      exec,
      authFile: authFile.path,
      insecure,
      workDir,
      maxParallel: settings.maxParallel ?? config.maxParallel ?? availableParallelism(),
      ...(result.event.repositoryUrl !== undefined
        ? { sourceUrl: result.event.repositoryUrl }
        : {}),
      now: new Date(),
      log: (line) => host.info(line),
      resolveTag: tagResolver(registry),
      group: (title, body) => host.group(title, body),
    });
  } finally {
    stopWatching();
    await cleanup();
  }
}
