// CI environments and payloads -> one normalised CiEvent. Pure: the caller reads the
// environment and the event file and hands them in.
import { EventError } from './errors.js';
import type { CiEvent, EventKind } from './types.js';

type Env = Record<string, string | undefined>;

const SHA = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;
const ZERO_SHA = /^0+$/;

/** A full commit id: 40 hex (SHA-1) or 64 hex (SHA-256 repositories). */
export function isFullSha(text: string): boolean {
  return SHA.test(text);
}

/** Git and both platforms write a missing commit as 40 (or 64) zeros. */
export function isZeroSha(text: string | undefined): boolean {
  return text !== undefined && ZERO_SHA.test(text);
}

/** `refs/heads/main` -> `main`, `refs/tags/v1` -> `v1`; anything else unchanged. */
export function shortRefName(ref: string): string {
  return ref.replace(/^refs\/(?:heads|tags)\//, '');
}

function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}

function requestedImages(images: string[] | undefined): string[] | undefined {
  const names = (images ?? []).map((name) => name.trim()).filter((name) => name !== '');
  return names.length > 0 ? [...new Set(names)] : undefined;
}

/** Drops undefined fields so events compare and serialise cleanly. */
function compact(event: CiEvent): CiEvent {
  return Object.fromEntries(
    Object.entries(event).filter(([, value]) => value !== undefined),
  ) as unknown as CiEvent;
}

// ---------------------------------------------------------------------------------------
// GitHub Actions

/** Reads a dotted path from the payload; only plain objects are walked. */
function field(payload: unknown, path: string): unknown {
  let value: unknown = payload;
  for (const key of path.split('.')) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

function optionalString(payload: unknown, path: string): string | undefined {
  const value = field(payload, path);
  return typeof value === 'string' && value !== '' ? value : undefined;
}

class GithubPayload {
  constructor(
    private readonly eventName: string,
    private readonly payload: unknown,
  ) {}

  optional(path: string): string | undefined {
    return optionalString(this.payload, path);
  }

  required(path: string): string {
    const value = this.optional(path);
    if (value === undefined) {
      throw new EventError(`${this.eventName} event payload has no "${path}"`);
    }
    return value;
  }

  sha(path: string): string {
    const value = this.required(path).toLowerCase();
    if (!isFullSha(value)) {
      throw new EventError(
        `${this.eventName} event payload has an invalid "${path}": ${JSON.stringify(value)} is not a full commit sha`,
      );
    }
    return value;
  }
}

function githubSha(eventName: string, env: Env): string {
  const sha = nonEmpty(env.GITHUB_SHA)?.toLowerCase();
  if (sha === undefined)
    throw new EventError(`${eventName} event has no commit: GITHUB_SHA is not set`);
  if (!isFullSha(sha)) {
    throw new EventError(`${eventName} event has an invalid GITHUB_SHA: ${JSON.stringify(sha)}`);
  }
  return sha;
}

function githubRef(eventName: string, env: Env): { refName: string; refType: 'branch' | 'tag' } {
  const ref = nonEmpty(env.GITHUB_REF);
  const refName = nonEmpty(env.GITHUB_REF_NAME) ?? (ref ? shortRefName(ref) : undefined);
  if (refName === undefined) {
    throw new EventError(`${eventName} event has no ref: GITHUB_REF is not set`);
  }
  const refType =
    env.GITHUB_REF_TYPE === 'tag' || ref?.startsWith('refs/tags/') === true ? 'tag' : 'branch';
  return { refName, refType };
}

/**
 * Reads a GitHub Actions run: the `GITHUB_*` variables and the event payload (the JSON
 * file at `GITHUB_EVENT_PATH`). `inputs.images` (the action's `images` input) asks for
 * images by name.
 */
export function readGithubEvent(
  env: Env,
  payload: unknown,
  inputs: { images?: string[] } = {},
): CiEvent {
  const eventName = nonEmpty(env.GITHUB_EVENT_NAME);
  if (eventName === undefined) {
    throw new EventError(
      'GITHUB_EVENT_NAME is not set: this does not look like a GitHub Actions run',
    );
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    throw new EventError(`${eventName} event payload is not a JSON object`);
  }
  const body = new GithubPayload(eventName, payload);

  const repositorySlug = nonEmpty(env.GITHUB_REPOSITORY) ?? body.optional('repository.full_name');
  const serverUrl = (nonEmpty(env.GITHUB_SERVER_URL) ?? 'https://github.com').replace(/\/+$/, '');
  const common = {
    platform: 'github' as const,
    sourceEvent: eventName,
    defaultBranch: body.optional('repository.default_branch'),
    actor: nonEmpty(env.GITHUB_ACTOR) ?? body.optional('sender.login'),
    repositorySlug,
    repositoryUrl: repositorySlug
      ? `${serverUrl}/${repositorySlug}`
      : body.optional('repository.html_url'),
    requestedImages: requestedImages(inputs.images),
  };

  switch (eventName) {
    case 'push': {
      const ref = body.optional('ref') ?? nonEmpty(env.GITHUB_REF);
      if (ref === undefined) throw new EventError('push event payload has no "ref"');
      const after = body.sha('after');
      if (isZeroSha(after)) {
        // A push that deletes a branch or tag: there is no commit to build.
        throw new EventError(
          `push event deletes ${ref} ("after" is all zeros): there is nothing to build; skip deletions in the workflow (if: github.event.deleted == false)`,
        );
      }
      const before = body.optional('before')?.toLowerCase();
      if (before !== undefined && !isFullSha(before)) {
        throw new EventError(
          `push event payload has an invalid "before": ${JSON.stringify(before)} is not a full commit sha`,
        );
      }
      const isTag = ref.startsWith('refs/tags/');
      return compact({
        ...common,
        kind: isTag ? 'tag' : 'push',
        refName: shortRefName(ref),
        refType: isTag ? 'tag' : 'branch',
        sha: after,
        before: before === undefined || isZeroSha(before) ? undefined : before,
      });
    }

    case 'pull_request':
    case 'pull_request_target': {
      const pr = field(payload, 'pull_request');
      if (typeof pr !== 'object' || pr === null) {
        throw new EventError(`${eventName} event payload has no "pull_request"`);
      }
      return compact({
        ...common,
        kind: 'pull_request',
        // GITHUB_SHA is the test merge commit (refs/pull/N/merge); the pull request's own
        // head commit is what gets tagged and compared.
        sha: body.sha('pull_request.head.sha'),
        refName: body.required('pull_request.head.ref'),
        refType: 'branch',
        baseSha: body.sha('pull_request.base.sha'),
        baseRef: body.required('pull_request.base.ref'),
      });
    }

    case 'merge_group': {
      const headRef = body.optional('merge_group.head_ref');
      const refName =
        nonEmpty(env.GITHUB_REF_NAME) ?? (headRef ? shortRefName(headRef) : undefined);
      if (refName === undefined)
        throw new EventError('merge_group event payload has no "merge_group.head_ref"');
      return compact({
        ...common,
        kind: 'merge_group',
        sha: body.sha('merge_group.head_sha'),
        refName,
        refType: 'branch',
        baseSha: body.sha('merge_group.base_sha'),
        baseRef: shortRefName(body.required('merge_group.base_ref')),
      });
    }

    default: {
      const kind: EventKind = eventName === 'schedule' ? 'schedule' : 'manual';
      // workflow_dispatch, schedule, repository_dispatch and every other trigger: build
      // everything unless images were asked for by name.
      return compact({
        ...common,
        kind,
        ...githubRef(eventName, env),
        sha: githubSha(eventName, env),
        all: common.requestedImages ? undefined : true,
      });
    }
  }
}

// ---------------------------------------------------------------------------------------
// GitLab CI

function gitlabSha(env: Env, name: string, source: string, required: true): string;
function gitlabSha(env: Env, name: string, source: string, required: false): string | undefined;
function gitlabSha(env: Env, name: string, source: string, required: boolean): string | undefined {
  const value = nonEmpty(env[name])?.toLowerCase();
  if (value === undefined) {
    if (required) throw new EventError(`GitLab ${source} pipeline has no ${name}`);
    return undefined;
  }
  if (!isFullSha(value)) {
    throw new EventError(
      `GitLab ${source} pipeline has an invalid ${name}: ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/**
 * Reads a GitLab CI job from its predefined variables
 * (https://docs.gitlab.com/ci/variables/predefined_variables/). `inputs.images` asks for
 * images by name (the CLI's `--images`).
 */
export function readGitlabEvent(env: Env, inputs: { images?: string[] } = {}): CiEvent {
  const source = nonEmpty(env.CI_PIPELINE_SOURCE);
  if (source === undefined) {
    throw new EventError('CI_PIPELINE_SOURCE is not set: this does not look like a GitLab CI job');
  }
  const sha = gitlabSha(env, 'CI_COMMIT_SHA', source, true);
  // Zeros on new branches, tags, merge request, manual and scheduled pipelines.
  const before = gitlabSha(env, 'CI_COMMIT_BEFORE_SHA', source, false);
  const tag = nonEmpty(env.CI_COMMIT_TAG);
  const requested = requestedImages(inputs.images);

  const common = {
    platform: 'gitlab' as const,
    sourceEvent: source,
    sha,
    defaultBranch: nonEmpty(env.CI_DEFAULT_BRANCH),
    actor: nonEmpty(env.GITLAB_USER_LOGIN),
    repositoryUrl: nonEmpty(env.CI_PROJECT_URL),
    requestedImages: requested,
  };
  const refName = (): string => {
    const name = tag ?? nonEmpty(env.CI_COMMIT_BRANCH) ?? nonEmpty(env.CI_COMMIT_REF_NAME);
    if (name === undefined) {
      throw new EventError(`GitLab ${source} pipeline has no CI_COMMIT_REF_NAME`);
    }
    return name;
  };

  switch (source) {
    case 'push':
      return compact({
        ...common,
        kind: tag ? 'tag' : 'push',
        refName: refName(),
        refType: tag ? 'tag' : 'branch',
        before: before === undefined || isZeroSha(before) ? undefined : before,
      });

    case 'merge_request_event':
    case 'merge_train': {
      const sourceBranch = nonEmpty(env.CI_MERGE_REQUEST_SOURCE_BRANCH_NAME);
      if (sourceBranch === undefined) {
        throw new EventError(
          `GitLab ${source} pipeline has no CI_MERGE_REQUEST_SOURCE_BRANCH_NAME`,
        );
      }
      // Merged results and merge train pipelines build a temporary merge commit on top of
      // the target branch's head, and only then set CI_MERGE_REQUEST_TARGET_BRANCH_SHA:
      // comparing with that head gives exactly what the merge request adds. Plain merge
      // request pipelines build the source branch; the diff base is where it left the target.
      const targetSha = gitlabSha(env, 'CI_MERGE_REQUEST_TARGET_BRANCH_SHA', source, false);
      const baseSha = targetSha ?? gitlabSha(env, 'CI_MERGE_REQUEST_DIFF_BASE_SHA', source, true);
      const isTrain = source === 'merge_train' || env.CI_MERGE_REQUEST_EVENT_TYPE === 'merge_train';
      return compact({
        ...common,
        kind: isTrain ? 'merge_group' : 'pull_request',
        refName: sourceBranch,
        refType: 'branch',
        baseSha,
        baseRef: nonEmpty(env.CI_MERGE_REQUEST_TARGET_BRANCH_NAME),
      });
    }

    case 'external_pull_request_event': {
      const sourceBranch = nonEmpty(env.CI_EXTERNAL_PULL_REQUEST_SOURCE_BRANCH_NAME);
      if (sourceBranch === undefined) {
        throw new EventError(
          `GitLab ${source} pipeline has no CI_EXTERNAL_PULL_REQUEST_SOURCE_BRANCH_NAME`,
        );
      }
      return compact({
        ...common,
        kind: 'pull_request',
        refName: sourceBranch,
        refType: 'branch',
        baseSha: gitlabSha(env, 'CI_EXTERNAL_PULL_REQUEST_TARGET_BRANCH_SHA', source, true),
        baseRef: nonEmpty(env.CI_EXTERNAL_PULL_REQUEST_TARGET_BRANCH_NAME),
      });
    }

    default:
      // schedule, web (Run pipeline), api, trigger, pipeline, parent_pipeline, chat…:
      // nothing says what changed, so everything unless images were asked for by name.
      return compact({
        ...common,
        kind: source === 'schedule' ? 'schedule' : 'manual',
        refName: refName(),
        refType: tag ? 'tag' : 'branch',
        before: before === undefined || isZeroSha(before) ? undefined : before,
        all: requested ? undefined : true,
      });
  }
}

// ---------------------------------------------------------------------------------------
// Command line

export interface LocalEventOptions {
  /** The commit being built (40 hex), usually `git rev-parse HEAD`. */
  sha: string;
  /** Current branch; undefined on a detached HEAD. */
  branch?: string;
  /** Tag being built (`--tag`), which wins over the branch as the ref. */
  tag?: string;
  /** `--since REF`: compare REF..sha. REF may be any revision git understands. */
  since?: string;
  /** `--all`. */
  all?: boolean;
  /** `--images a,b`. */
  images?: string[];
  defaultBranch?: string;
  actor?: string;
}

/** A run from the command line. */
export function readLocalEvent(opts: LocalEventOptions): CiEvent {
  const sha = opts.sha.trim().toLowerCase();
  if (!isFullSha(sha)) {
    throw new EventError(`local run: ${JSON.stringify(opts.sha)} is not a full commit sha`);
  }
  const tag = nonEmpty(opts.tag);
  const since = nonEmpty(opts.since);
  if (since?.startsWith('-')) {
    throw new EventError(`--since ${JSON.stringify(since)}: a revision cannot start with "-"`);
  }
  const requested = requestedImages(opts.images);
  return compact({
    platform: 'local',
    kind: 'local',
    sourceEvent: 'local',
    refName: tag ?? nonEmpty(opts.branch) ?? sha,
    refType: tag ? 'tag' : 'branch',
    sha,
    before: since,
    defaultBranch: nonEmpty(opts.defaultBranch),
    requestedImages: requested,
    all: opts.all === true && !requested ? true : undefined,
    actor: nonEmpty(opts.actor),
  });
}
