// Event -> the paths that changed, by running git. Follows changeStrategy; where a CI clone
// is too shallow it fetches what is missing, and where history truly cannot answer (a force
// push, a commit gone from the remote) it asks the GitHub compare API, or builds everything
// and says exactly why.
import type { getOctokit } from '@actions/github';

import type { Git } from '../adapters/git.js';
import { changeStrategy } from '../core/change-strategy.js';
import { isFullSha } from '../core/ci-event.js';
import { EventError } from '../core/errors.js';
import type { ChangeSet, CiEvent } from '../core/types.js';

/** Files changed between two revisions, as a remote service lists them. */
export type CompareFunction = (
  base: string,
  head: string,
) => Promise<{ files: string[]; truncated: boolean }>;

export interface DetectOptions {
  /** Fallback when git cannot answer: usually `githubCompare(octokit, owner, repo)`. */
  compare?: CompareFunction;
  /** Progress lines (fetches, deepening, fallbacks). */
  log?: (line: string) => void;
  /**
   * Most commits to deepen a shallow clone by, in steps, before giving up. Default: no
   * limit — deepen by 50, 200 and 1000 commits, then fetch the whole history.
   */
  maxDeepen?: number;
}

const DEEPEN_STEPS = [50, 200, 1000];

const short = (rev: string): string => (isFullSha(rev) ? rev.slice(0, 7) : rev);

/** The deepening steps for a limit: 50, 200, 1000 (clamped to the limit). */
function deepenSteps(maxDeepen: number | undefined): number[] {
  if (maxDeepen === undefined) return DEEPEN_STEPS;
  const steps: number[] = [];
  let total = 0;
  for (const step of DEEPEN_STEPS) {
    const next = Math.min(step, maxDeepen - total);
    if (next <= 0) break;
    steps.push(next);
    total += next;
  }
  if (total < maxDeepen) steps.push(maxDeepen - total);
  return steps;
}

class Detector {
  private readonly log: (line: string) => void;
  private shallow?: boolean;
  /** Commits the shallow clone was deepened by, for messages. */
  private deepenedBy = 0;

  constructor(
    private readonly event: CiEvent,
    private readonly git: Git,
    private readonly options: DetectOptions,
  ) {
    this.log = options.log ?? (() => undefined);
  }

  private async isShallow(): Promise<boolean> {
    this.shallow ??= await this.git.isShallow();
    return this.shallow;
  }

  /**
   * Deepens a shallow clone step by step until `done` answers true; the whole history as
   * the last step when no limit is set. Each step first tries to deepen only the given
   * revisions' histories, then (for servers that refuse unadvertised commits) all branches.
   */
  private async deepenUntil(revisions: string[], done: () => Promise<boolean>): Promise<boolean> {
    if (!(await this.isShallow())) return false;
    for (const step of deepenSteps(this.options.maxDeepen)) {
      const ok =
        (await this.git.deepen(step, revisions)) ||
        (revisions.length > 0 && (await this.git.deepen(step)));
      if (!ok) {
        this.log(`could not deepen the shallow clone by ${step} commits`);
        break;
      }
      this.deepenedBy += step;
      this.log(`deepened the shallow clone by ${step} commits (${this.deepenedBy} in all)`);
      if (await done()) return true;
      // Deepened past the first commit: the clone is complete and further steps are moot.
      this.shallow = await this.git.isShallow();
      if (!this.shallow) return false;
    }
    if (this.options.maxDeepen !== undefined) return false;
    if (await this.git.unshallow()) {
      this.shallow = false;
      this.log('fetched the whole history (git fetch --unshallow)');
      return done();
    }
    this.log('could not fetch the whole history (git fetch --unshallow failed)');
    return false;
  }

  /** Makes a commit present: fetched by sha, else by deepening the given histories. */
  private async ensureCommit(sha: string, label: string, near: string[]): Promise<boolean> {
    if (await this.git.hasCommit(sha)) return true;
    this.log(`${label} commit ${short(sha)} is not in the clone; fetching it`);
    const shallow = await this.isShallow();
    // Depth 1 in a shallow clone: the commit's tree is enough for a diff, and anything
    // deeper is deepenUntil's job.
    if (
      (await this.git.fetchCommit(sha, shallow ? 1 : undefined)) &&
      (await this.git.hasCommit(sha))
    ) {
      this.log(`fetched ${label} commit ${short(sha)}`);
      return true;
    }
    const present: string[] = [];
    for (const rev of near) if (await this.git.hasCommit(rev)) present.push(rev);
    return this.deepenUntil(present, () => this.git.hasCommit(sha));
  }

  /** Where something was looked for: the whole history, or a shallow clone that stayed shallow. */
  private async where(): Promise<string> {
    if (!(await this.isShallow())) return 'in the history';
    return this.deepenedBy > 0
      ? `in the shallow clone, even deepened by ${this.deepenedBy} commits`
      : 'in the shallow clone';
  }

  /** A revision the strategy names (sha, `origin/<branch>`, or any ref) as a present commit. */
  private async resolve(rev: string, label: string, near: string[]): Promise<string | undefined> {
    if (isFullSha(rev)) return (await this.ensureCommit(rev, label, near)) ? rev : undefined;
    const found = await this.git.revParse(rev);
    if (found) return found;
    if (rev.startsWith('origin/')) {
      const branch = rev.slice('origin/'.length);
      this.log(`${rev} is not in the clone; fetching branch ${branch}`);
      const shallow = await this.isShallow();
      if (await this.git.fetchBranch(branch, shallow ? 1 : undefined)) {
        return this.git.revParse(rev);
      }
      this.log(`could not fetch branch ${branch}`);
    }
    return undefined;
  }

  async detect(): Promise<ChangeSet> {
    const { event } = this;
    const head = event.sha;
    const strategy = changeStrategy(event);
    switch (strategy.type) {
      case 'all':
        return { all: true, reason: strategy.reason, head };
      case 'requested':
        // Nothing to diff: the planner builds the named images (AffectReason 'requested').
        return { all: false, paths: [], how: strategy.why, head };
      case 'diff':
        return this.diff(strategy.from, strategy.to);
      case 'merge-base':
        return this.mergeBase(strategy.base, strategy.head);
    }
  }

  private async diff(fromRev: string, toRev: string): Promise<ChangeSet> {
    const source = this.event.sourceEvent;
    if (!isFullSha(fromRev) && this.event.kind === 'local') {
      // --since REF: a name the user typed; not finding it is their mistake to fix.
      const found = await this.git.revParse(fromRev);
      if (!found) {
        throw new EventError(
          `--since ${fromRev}: no such commit, branch or tag in this repository`,
        );
      }
      fromRev = found;
    }
    const to = await this.resolve(toRev, 'head', []);
    if (!to) {
      return this.fallback(
        `head commit ${short(toRev)} is not ${await this.where()}`,
        fromRev,
        toRev,
      );
    }
    const from = await this.resolve(fromRev, 'before', [to]);
    if (!from) {
      const where = await this.where();
      const forced =
        this.event.kind === 'push' && where === 'in the history' ? ' (force push?)' : '';
      return this.fallback(`before commit ${short(fromRev)} is not ${where}${forced}`, fromRev, to);
    }
    let note = '';
    if (!(await this.isShallow()) && !(await this.git.isAncestor(from, to))) {
      // A force push whose old commit is still fetchable: the two trees are what the ref
      // held and what it holds now, so their difference is still exactly what changed.
      note = ', before is not an ancestor: trees compared';
      this.log(
        `${short(from)} is not an ancestor of ${short(to)} (force push?); comparing the two trees`,
      );
    }
    const paths = await this.git.changedPaths(from, to);
    return {
      all: false,
      paths,
      how: `git diff ${short(from)}..${short(to)} (${source}${note})`,
      base: from,
      head: to,
    };
  }

  private async mergeBase(baseRev: string, headRev: string): Promise<ChangeSet> {
    const source = this.event.sourceEvent;
    const head = await this.resolve(headRev, 'head', []);
    if (!head) {
      return this.fallback(
        `head commit ${short(headRev)} is not ${await this.where()}`,
        baseRev,
        headRev,
      );
    }
    const base = await this.resolve(baseRev, 'base', [head]);
    if (!base) {
      return this.fallback(`base ${short(baseRev)} is not ${await this.where()}`, baseRev, head);
    }
    let mergeBase = await this.git.mergeBase(base, head);
    if (!mergeBase && (await this.isShallow())) {
      this.log(
        `no merge base of ${short(baseRev)} and ${short(head)} in the shallow clone; deepening`,
      );
      await this.deepenUntil([base, head], async () => {
        mergeBase = await this.git.mergeBase(base, head);
        return mergeBase !== undefined;
      });
    }
    if (!mergeBase) {
      return this.fallback(
        `${short(baseRev)} and ${short(head)} have no merge base ${await this.where()}`,
        baseRev,
        head,
      );
    }
    const paths = await this.git.changedPaths(mergeBase, head);
    return {
      all: false,
      paths,
      how: `merge base ${short(mergeBase)} of ${short(baseRev)} and ${short(head)} (${source})`,
      base: mergeBase,
      head,
    };
  }

  /** Git could not answer: the compare API, or everything with the exact reason. */
  private async fallback(problem: string, baseRev: string, headRev: string): Promise<ChangeSet> {
    const head = this.event.sha;
    const { compare } = this.options;
    if (!compare) {
      return all(`${problem} and the compare API was not available`);
    }
    // The compare API takes branch names, not remote-tracking refs.
    const base = baseRev.replace(/^origin\//, '');
    this.log(`${problem}; asking the compare API for ${short(base)}...${short(headRev)}`);
    let result: { files: string[]; truncated: boolean };
    try {
      result = await compare(base, headRev);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      return all(`${problem} and the compare API failed: ${message}`);
    }
    if (result.truncated) {
      return all(
        `${problem} and the compare API listed only the first ${result.files.length} changed files`,
      );
    }
    return {
      all: false,
      paths: [...new Set(result.files)].sort(),
      how: `compare API ${short(base)}...${short(headRev)} (${this.event.sourceEvent}), because ${problem}`,
      base,
      head,
    };

    function all(reason: string): ChangeSet {
      return { all: true, reason: `all: ${reason}`, head };
    }
  }
}

/** Finds the paths an event changed, or says why everything must be built. */
export function detectChanges(
  event: CiEvent,
  git: Git,
  options: DetectOptions = {},
): Promise<ChangeSet> {
  return new Detector(event, git, options).detect();
}

// ---------------------------------------------------------------------------------------
// GitHub compare API

type Octokit = ReturnType<typeof getOctokit>;

/** GitHub lists at most 300 files per compare response and 3000 in all. */
const COMPARE_FILES_PER_PAGE = 300;
const COMPARE_FILES_MAX = 3000;

/**
 * A CompareFunction over GitHub's "compare two commits" endpoint (three-dot: changes on head
 * since the merge base). Renames count both paths. `truncated` is set when GitHub may have
 * left files out: a page came back full and the next page added nothing, or 3000 were listed.
 */
export function githubCompare(octokit: Octokit, owner: string, repo: string): CompareFunction {
  return async (base, head) => {
    const files = new Set<string>();
    let listed = 0;
    for (let page = 1; ; page++) {
      const response = await octokit.rest.repos.compareCommitsWithBasehead({
        owner,
        repo,
        basehead: `${base}...${head}`,
        page,
        per_page: 100,
      });
      const pageFiles = response.data.files ?? [];
      for (const file of pageFiles) {
        files.add(file.filename);
        if (file.previous_filename) files.add(file.previous_filename);
      }
      listed += pageFiles.length;
      if (pageFiles.length < COMPARE_FILES_PER_PAGE) {
        // A short page ends the list; an empty page after a full one leaves it unknown.
        return { files: [...files].sort(), truncated: page > 1 && pageFiles.length === 0 };
      }
      if (listed >= COMPARE_FILES_MAX) return { files: [...files].sort(), truncated: true };
    }
  };
}
