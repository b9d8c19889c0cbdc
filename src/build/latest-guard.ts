// `latest` never goes backwards: two runs that finish out of order would otherwise leave a
// moving tag on the older commit. Before moving one, the revision label of the image it
// points at now is read; when that commit descends from this run's, the tag stays.
import { MEDIA_TYPES } from '../registry/client.js';
import type { RegistryClient } from '../registry/client.js';

export const REVISION_LABEL = 'org.opencontainers.image.revision';

const FULL_SHA = /^[0-9a-f]{40}$/;

interface ManifestJson {
  mediaType?: string;
  config?: { digest?: string };
  manifests?: { digest?: string }[];
}

/**
 * The revision label of the image a reference points at, or undefined when there is none
 * (or the reference does not exist). A multi-platform index is read through its first image:
 * every platform of one build carries the same labels.
 */
export async function revisionAt(
  registry: RegistryClient,
  repository: string,
  reference: string,
): Promise<string | undefined> {
  const separator = reference.startsWith('sha256:') ? '@' : ':';
  let manifest = await registry.getManifest(`${repository}${separator}${reference}`);
  let parsed = JSON.parse(manifest.bytes.toString('utf8')) as ManifestJson;
  const isIndex =
    manifest.mediaType === MEDIA_TYPES.ociIndex ||
    manifest.mediaType === MEDIA_TYPES.dockerManifestList ||
    Array.isArray(parsed.manifests);
  if (isIndex) {
    const first = parsed.manifests?.[0]?.digest;
    if (first === undefined) return undefined;
    manifest = await registry.getManifest(`${repository}@${first}`);
    parsed = JSON.parse(manifest.bytes.toString('utf8')) as ManifestJson;
  }
  const configDigest = parsed.config?.digest;
  if (configDigest === undefined) return undefined;
  const config = JSON.parse(
    (await registry.getBlob(repository, configDigest)).toString('utf8'),
  ) as {
    config?: { Labels?: Record<string, string> | null };
  };
  return config.config?.Labels?.[REVISION_LABEL];
}

export interface MovingTagCheck {
  registry: RegistryClient;
  repository: string;
  tag: string;
  /** What the run would point the tag at. */
  digest: string;
  /** This run's commit. */
  sha: string;
  /** Whether `ancestor` is an ancestor of `descendant` (git merge-base --is-ancestor). */
  isAncestor: (ancestor: string, descendant: string) => Promise<boolean>;
  log: (line: string) => void;
}

/**
 * Whether the moving tag may move to `digest`. It stays only when the image it points at
 * now was built from a commit that descends from this run's; an unknown revision, one not in
 * the local history, or a registry that cannot tell: the tag moves, as without the guard.
 */
export async function mayMoveTag(check: MovingTagCheck): Promise<boolean> {
  return (await movingTagDecision(check)) !== 'stay';
}

/**
 * mayMoveTag's answer, telling apart a tag that already points at `digest` (`current`:
 * nothing to write, as on a rerun) from one to move.
 */
export async function movingTagDecision(
  check: MovingTagCheck,
): Promise<'move' | 'stay' | 'current'> {
  const { registry, repository, tag, sha } = check;
  const current = await registry.headManifest(`${repository}:${tag}`).catch(() => undefined);
  if (current === undefined) return 'move';
  if (current.digest === check.digest) return 'current';
  const revision = await revisionAt(registry, repository, tag).catch(() => undefined);
  if (revision === undefined || !FULL_SHA.test(revision) || revision === sha) return 'move';
  const newer = await check.isAncestor(sha, revision).catch(() => false);
  if (!newer) return 'move';
  check.log(
    `${repository}: ${tag} stays on ${revision.slice(0, 7)}: it is newer than ${sha.slice(0, 7)}`,
  );
  return 'stay';
}

// Registries have no compare-and-swap, so the check above races: an older run can check,
// then a newer run check and write, then the older run write its image over the newer one.
// So the newer run looks again once the others' writes have had time to land, and puts back
// what an older run overwrote. The older run never needs to: its check sees the newer image.

/** How long a run waits before re-reading the moving tags it wrote. */
export const SETTLE_MS = 1_000;
/** How many times a run re-reads (and puts back) its moving tags at most. */
export const VERIFY_ROUNDS = 3;

export interface WrittenTag {
  repository: string;
  tag: string;
  /** What this run pointed the tag at. */
  digest: string;
}

/**
 * Where a moving tag stands after this run wrote it: still `ours`, on another image of the
 * `same` commit, taken by an `older` run (to put back) or a `newer` one (theirs), or
 * `unknown`: gone, unreadable, unlabelled or not related in the local history — left alone,
 * since nothing says this run's image is the better one.
 */
export interface TagState {
  state: 'ours' | 'same' | 'older' | 'newer' | 'unknown';
  /** The revision the tag's image was built from, when it is not ours. */
  revision?: string;
  /** Why the state is `unknown`. */
  reason?: string;
}

export interface VerifyContext {
  registry: RegistryClient;
  /** This run's commit. */
  sha: string;
  isAncestor: (ancestor: string, descendant: string) => Promise<boolean>;
}

/** Reads where a moving tag this run wrote points now, and who put it there. */
export async function tagStateAfterWrite(
  written: WrittenTag,
  context: VerifyContext,
): Promise<TagState> {
  const { registry, sha } = context;
  const { repository, tag } = written;
  let current;
  try {
    current = await registry.headManifest(`${repository}:${tag}`);
  } catch (error) {
    return { state: 'unknown', reason: `unreadable: ${describe(error)}` };
  }
  if (current === undefined) return { state: 'unknown', reason: 'gone' };
  if (current.digest === written.digest) return { state: 'ours' };
  const revision = await revisionAt(registry, repository, tag).catch(() => undefined);
  if (revision === undefined || !FULL_SHA.test(revision)) {
    return { state: 'unknown', reason: `${current.digest} names no commit in its revision label` };
  }
  if (revision === sha) return { state: 'same', revision };
  // A commit missing from the local history makes git fail: then they are not related.
  const related = (ancestor: string, descendant: string): Promise<boolean> =>
    context.isAncestor(ancestor, descendant).catch(() => false);
  if (await related(revision, sha)) return { state: 'older', revision };
  if (await related(sha, revision)) return { state: 'newer', revision };
  return {
    state: 'unknown',
    revision,
    reason: `${revision.slice(0, 7)} is not related to ${sha.slice(0, 7)}`,
  };
}

export interface VerifyOptions extends VerifyContext {
  log: (line: string) => void;
  /** Points a tag at this run's image again (run-build's addTag). */
  write: (written: WrittenTag) => Promise<void>;
  settleMs?: number;
  rounds?: number;
  sleep?: (ms: number) => Promise<void>;
}

export interface VerifiedTag extends WrittenTag {
  /** Where it stood when last read; `older` when it was put back in the last round. */
  state: TagState['state'];
  /** How many times this run put it back. */
  restored: number;
}

const wait = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * After this run wrote its moving tags: waits `settleMs`, re-reads each, and puts back the
 * ones an older run overwrote; again (up to `rounds`) while it had to put one back, in case
 * a third, slower run was still writing.
 */
export async function verifyMovingTags(
  written: readonly WrittenTag[],
  options: VerifyOptions,
): Promise<VerifiedTag[]> {
  const { log, sha } = options;
  const settleMs = options.settleMs ?? SETTLE_MS;
  const rounds = options.rounds ?? VERIFY_ROUNDS;
  const sleep = options.sleep ?? wait;
  const results = written.map((tag): VerifiedTag => ({ ...tag, state: 'ours', restored: 0 }));
  let pending = results;
  for (let round = 1; round <= rounds && pending.length > 0; round += 1) {
    await sleep(settleMs);
    const states = await Promise.all(pending.map((tag) => tagStateAfterWrite(tag, options)));
    const again: VerifiedTag[] = [];
    for (const [index, tag] of pending.entries()) {
      const found = states[index] as TagState;
      tag.state = found.state;
      const name = `${tag.repository}: ${tag.tag}`;
      const revision = found.revision?.slice(0, 7) ?? '';
      if (found.state === 'older') {
        log(
          `${name} was moved back to ${revision} by an older run; moving it to ${sha.slice(0, 7)} again`,
        );
        await options.write({ repository: tag.repository, tag: tag.tag, digest: tag.digest });
        tag.restored += 1;
        again.push(tag);
      } else if (found.state === 'newer') {
        log(`${name} is now on ${revision}, newer than ${sha.slice(0, 7)}: it stays there`);
      } else if (found.state === 'unknown') {
        log(`${name} changed after this run wrote it (${found.reason ?? 'unknown'}): left as is`);
      }
    }
    pending = again;
  }
  for (const tag of pending) {
    log(
      `${tag.repository}: ${tag.tag} was overwritten by older runs ${tag.restored} times; put back, not checked again`,
    );
  }
  return results;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
