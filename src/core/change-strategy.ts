// How to find what changed for an event: the decision alone, pure. Running git (and
// deepening shallow clones) is src/changes/detect.ts's job.
import type { CiEvent } from './types.js';

export type Strategy =
  /** Build everything; `reason` says why, e.g. `all: tag push v1.2.0`. */
  | { type: 'all'; reason: string }
  /** Build the images asked for by name, whatever changed. */
  | { type: 'requested'; images: string[]; why: string }
  /** The paths that differ between two commits (or revisions), e.g. a push's before..after. */
  | { type: 'diff'; from: string; to: string; why: string }
  /**
   * The paths changed on `head` since it left `base`: a pull/merge request, a merge queue, a
   * new branch. `base` is a commit sha or a remote branch `origin/<name>`.
   */
  | { type: 'merge-base'; base: string; head: string; why: string };

const short = (sha: string): string => (/^[0-9a-f]{40,64}$/.test(sha) ? sha.slice(0, 7) : sha);

export function changeStrategy(event: CiEvent): Strategy {
  const source = event.sourceEvent;

  if (event.requestedImages && event.requestedImages.length > 0) {
    return {
      type: 'requested',
      images: [...event.requestedImages],
      why: `images requested by name: ${event.requestedImages.join(', ')}`,
    };
  }
  if (event.all) {
    return { type: 'all', reason: `all: ${allReason(event)}` };
  }

  switch (event.kind) {
    case 'tag':
      return {
        type: 'all',
        reason:
          source === 'push'
            ? `all: tag push ${event.refName}`
            : `all: tag ${event.refName} (${source})`,
      };

    case 'schedule':
    case 'manual':
      return { type: 'all', reason: `all: ${allReason(event)}` };

    case 'pull_request':
    case 'merge_group': {
      const what = event.kind === 'merge_group' ? 'merge queue' : 'pull request';
      if (event.baseSha) {
        return {
          type: 'merge-base',
          base: event.baseSha,
          head: event.sha,
          why: `${what} into ${event.baseRef ?? short(event.baseSha)} (${source})`,
        };
      }
      if (event.baseRef) {
        return {
          type: 'merge-base',
          base: `origin/${event.baseRef}`,
          head: event.sha,
          why: `${what} into ${event.baseRef} (${source})`,
        };
      }
      return { type: 'all', reason: `all: ${source} event names no base commit or branch` };
    }

    case 'push': {
      if (event.before) {
        return {
          type: 'diff',
          from: event.before,
          to: event.sha,
          why: `push ${short(event.before)}..${short(event.sha)} (${source})`,
        };
      }
      // No previous commit: a new branch (GitHub's all-zero `before`, GitLab's all-zero
      // CI_COMMIT_BEFORE_SHA). What it adds is what it changed since it left the default branch.
      if (event.defaultBranch && event.refName !== event.defaultBranch) {
        return {
          type: 'merge-base',
          base: `origin/${event.defaultBranch}`,
          head: event.sha,
          why: `new branch ${event.refName}, compared with ${event.defaultBranch} (${source})`,
        };
      }
      if (event.defaultBranch) {
        return {
          type: 'all',
          reason: `all: first push of the default branch ${event.refName} (no previous commit)`,
        };
      }
      return {
        type: 'all',
        reason: `all: push of ${event.refName} has no previous commit and the default branch is unknown`,
      };
    }

    case 'local':
      if (event.before) {
        return {
          type: 'diff',
          from: event.before,
          to: event.sha,
          why: `--since ${event.before}`,
        };
      }
      return {
        type: 'all',
        reason: 'all: local run without --since, --changed-files or --images',
      };
  }
}

function allReason(event: CiEvent): string {
  switch (event.kind) {
    case 'schedule':
      return `scheduled run (${event.sourceEvent})`;
    case 'local':
      return '--all given';
    case 'manual':
      return `manual run (${event.sourceEvent}) without requested images`;
    default:
      return `${event.sourceEvent} event asks for every image`;
  }
}

/**
 * A `--changed-files` list: one path a line, or NUL-separated (`git diff -z`) when the text
 * holds a NUL. Leading `./` is dropped, blank entries are skipped, duplicates removed.
 */
export function parseChangedFilesList(text: string): string[] {
  const entries = text.includes('\0') ? text.split('\0') : text.split(/\r?\n/);
  const paths = new Set<string>();
  for (const entry of entries) {
    if (entry.trim() === '') continue;
    let path = entry;
    while (path.startsWith('./')) path = path.slice(2);
    if (path !== '') paths.add(path);
  }
  return [...paths];
}
