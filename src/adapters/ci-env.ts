import { readFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { readGithubEvent, readGitlabEvent, readLocalEvent } from '../core/ci-event.js';
import { EventError } from '../core/errors.js';
import type { CiEvent, Platform } from '../core/types.js';
import type { Git } from './git.js';

type Env = Record<string, string | undefined>;

export function detectPlatform(env: Env): Platform {
  if (env.GITHUB_ACTIONS === 'true') return 'github';
  if (env.GITLAB_CI === 'true') return 'gitlab';
  return 'local';
}

export interface LocalEventOptions {
  since?: string;
  all?: boolean;
  images?: string[];
}

function localUser(env: Env): string | undefined {
  try {
    return env.USER ?? userInfo().username;
  } catch {
    return undefined;
  }
}

/** Reads the event of the CI platform this runs on; locally, the repository's HEAD. */
export async function loadEvent(
  platform: Platform,
  env: Env,
  git: Git,
  local: LocalEventOptions & { requestedImages?: string[] } = {},
): Promise<CiEvent> {
  const requested = local.requestedImages ?? local.images;
  if (platform === 'github') {
    const path = env.GITHUB_EVENT_PATH;
    if (!path) throw new EventError('GITHUB_EVENT_PATH is not set: cannot read the GitHub event');
    let payload: unknown;
    try {
      payload = JSON.parse(await readFile(path, 'utf8'));
    } catch (error) {
      throw new EventError(`cannot read the GitHub event payload: ${(error as Error).message}`);
    }
    const event = readGithubEvent(env, payload, requested ? { images: requested } : undefined);
    return local.all ? { ...event, all: true } : event;
  }
  if (platform === 'gitlab') {
    const event = readGitlabEvent(env, requested ? { images: requested } : undefined);
    return local.all ? { ...event, all: true } : event;
  }
  const sha = await git.headSha();
  const branch = await git.currentBranch();
  const defaultBranch = await git.defaultBranchFromRemote();
  return readLocalEvent({
    sha,
    ...(branch !== undefined ? { branch } : {}),
    ...(local.since !== undefined ? { since: local.since } : {}),
    ...(local.all ? { all: true } : {}),
    ...(requested ? { images: requested } : {}),
    ...(defaultBranch !== undefined ? { defaultBranch } : {}),
    actor: localUser(env),
  });
}
