// The one place that runs git. Always execFile (never a shell), always NUL-separated output
// where paths are involved, so spaces, quotes, unicode and newlines in file names survive.
import { execFile } from 'node:child_process';

import { UserError } from '../core/errors.js';

/** A git command failed: carries the command line and the end of what git printed. */
export class GitError extends UserError {
  readonly args: readonly string[];
  readonly exitCode: number | null;
  readonly stderr: string;

  constructor(args: readonly string[], exitCode: number | null, stderr: string, cause?: string) {
    const tail = lastLines(stderr, 5);
    const status = exitCode === null ? (cause ?? 'could not run') : `exit ${exitCode}`;
    super(`git ${args.join(' ')} failed (${status})${tail ? `: ${tail}` : ''}`);
    this.args = args;
    this.exitCode = exitCode;
    this.stderr = stderr;
  }
}

function lastLines(text: string, count: number): string {
  return text.trim().split(/\r?\n/).slice(-count).join('\n');
}

interface RunResult {
  stdout: Buffer;
  stderr: string;
  exitCode: number;
}

/** One name-status entry of a diff. */
export interface PathChange {
  /** A, M, D, T, R, C, U, X (the letter without the similarity score). */
  status: string;
  path: string;
  /** The source path of a rename or copy. */
  oldPath?: string;
}

const MAX_BUFFER = 1024 * 1024 * 1024;

/** Parses `git diff --name-status -z` output (also `diff-tree -r --name-status -z`). */
export function parseNameStatus(output: string): PathChange[] {
  const fields = output.split('\0');
  const changes: PathChange[] = [];
  for (let i = 0; i < fields.length;) {
    const status = fields[i++];
    if (!status) continue;
    const letter = status.charAt(0);
    if (letter === 'R' || letter === 'C') {
      const oldPath = fields[i++];
      const path = fields[i++];
      if (oldPath === undefined || path === undefined) break;
      changes.push({ status: letter, path, oldPath });
    } else {
      const path = fields[i++];
      if (path === undefined) break;
      changes.push({ status: letter, path });
    }
  }
  return changes;
}

/**
 * The paths a set of changes touches: both sides of a rename (the old path lost its
 * content, the new one gained it), the target of a copy, deleted paths.
 */
export function touchedPaths(changes: readonly PathChange[]): string[] {
  const paths = new Set<string>();
  for (const change of changes) {
    if (change.status === 'R' && change.oldPath !== undefined) paths.add(change.oldPath);
    paths.add(change.path);
  }
  return [...paths].sort();
}

function assertRevision(rev: string): void {
  // Keeps a revision from ever being read as an option.
  if (rev === '' || rev.startsWith('-')) {
    throw new UserError(`not a valid git revision: ${JSON.stringify(rev)}`);
  }
}

export interface GitOptions {
  /** The git executable; default `git` from PATH. */
  gitPath?: string;
  /** The remote to fetch from; default `origin`. */
  remote?: string;
  /** Environment for git; default the process environment. */
  env?: NodeJS.ProcessEnv;
}

export class Git {
  readonly cwd: string;
  private readonly gitPath: string;
  private readonly remote: string;
  private readonly env: NodeJS.ProcessEnv;

  constructor(cwd: string, options: GitOptions = {}) {
    this.cwd = cwd;
    this.gitPath = options.gitPath ?? 'git';
    this.remote = options.remote ?? 'origin';
    this.env = {
      ...(options.env ?? process.env),
      // A fetch must fail, not wait for a password nobody will type.
      GIT_TERMINAL_PROMPT: '0',
    };
  }

  /** Runs git; resolves with the exit code instead of throwing on failure. */
  private exec(args: readonly string[]): Promise<RunResult> {
    const fullArgs = ['-c', 'core.quotePath=false', ...args];
    return new Promise((resolve, reject) => {
      execFile(
        this.gitPath,
        fullArgs,
        { cwd: this.cwd, env: this.env, maxBuffer: MAX_BUFFER, encoding: 'buffer' },
        (error, stdout, stderr) => {
          const stderrText = stderr.toString('utf8');
          if (error) {
            const code = (error as NodeJS.ErrnoException & { code?: unknown }).code;
            if (typeof code === 'number') {
              resolve({ stdout, stderr: stderrText, exitCode: code });
              return;
            }
            // Not started (ENOENT, bad cwd) or killed (maxBuffer, signal).
            reject(new GitError(args, null, stderrText, error.message));
            return;
          }
          resolve({ stdout, stderr: stderrText, exitCode: 0 });
        },
      );
    });
  }

  /** Runs git and returns stdout; throws GitError unless it exits 0. */
  private async run(args: readonly string[]): Promise<Buffer> {
    const result = await this.exec(args);
    if (result.exitCode !== 0) throw new GitError(args, result.exitCode, result.stderr);
    return result.stdout;
  }

  private async text(args: readonly string[]): Promise<string> {
    return (await this.run(args)).toString('utf8').trim();
  }

  /** Runs git; true when it exits 0. */
  private async succeeds(args: readonly string[]): Promise<boolean> {
    return (await this.exec(args)).exitCode === 0;
  }

  private prefix?: Promise<string>;

  /**
   * Where the working folder sits inside the repository (`tools/docker/`, or '' at the
   * top). A project may live in a subfolder: its paths are relative to that folder.
   */
  async folderPrefix(): Promise<string> {
    this.prefix ??= this.run(['rev-parse', '--show-prefix']).then((out) =>
      out.toString('utf8').trim(),
    );
    return this.prefix;
  }

  async headSha(): Promise<string> {
    return this.text(['rev-parse', '--verify', 'HEAD^{commit}']);
  }

  /** The checked-out branch, or undefined on a detached HEAD. */
  async currentBranch(): Promise<string | undefined> {
    const result = await this.exec(['symbolic-ref', '--quiet', '--short', 'HEAD']);
    if (result.exitCode === 1) return undefined;
    if (result.exitCode !== 0) {
      throw new GitError(
        ['symbolic-ref', '--quiet', '--short', 'HEAD'],
        result.exitCode,
        result.stderr,
      );
    }
    return result.stdout.toString('utf8').trim() || undefined;
  }

  /** Whether the commit is present in this clone (not whether the remote has it). */
  async hasCommit(sha: string): Promise<boolean> {
    assertRevision(sha);
    return this.succeeds(['cat-file', '-e', `${sha}^{commit}`]);
  }

  async isShallow(): Promise<boolean> {
    return (await this.text(['rev-parse', '--is-shallow-repository'])) === 'true';
  }

  /** The commit a revision names, or undefined when it names none. */
  async revParse(ref: string): Promise<string | undefined> {
    assertRevision(ref);
    const result = await this.exec(['rev-parse', '--verify', '--quiet', `${ref}^{commit}`]);
    if (result.exitCode !== 0) return undefined;
    return result.stdout.toString('utf8').trim() || undefined;
  }

  /** The best common ancestor, or undefined when the histories (as present) share none. */
  async mergeBase(a: string, b: string): Promise<string | undefined> {
    assertRevision(a);
    assertRevision(b);
    const args = ['merge-base', a, b];
    const result = await this.exec(args);
    if (result.exitCode === 1) return undefined;
    if (result.exitCode !== 0) throw new GitError(args, result.exitCode, result.stderr);
    return result.stdout.toString('utf8').trim() || undefined;
  }

  async isAncestor(ancestor: string, descendant: string): Promise<boolean> {
    assertRevision(ancestor);
    assertRevision(descendant);
    const args = ['merge-base', '--is-ancestor', ancestor, descendant];
    const result = await this.exec(args);
    if (result.exitCode === 0) return true;
    if (result.exitCode === 1) return false;
    throw new GitError(args, result.exitCode, result.stderr);
  }

  /** Every change between two commits' trees, renames reported as delete + add. */
  async changes(from: string, to: string): Promise<PathChange[]> {
    assertRevision(from);
    assertRevision(to);
    // diff-tree is plumbing: user settings (diff.relative, external diff, colour) do not
    // reach it. Without rename detection a rename is its old path deleted and its new path
    // added, so both count, whatever the rename limit. From a subfolder, --relative keeps
    // the changes inside it, with paths relative to it like every other path here.
    const prefix = await this.folderPrefix();
    const output = await this.run([
      'diff-tree',
      '-r',
      '-z',
      '--name-status',
      '--no-renames',
      '--no-ext-diff',
      ...(prefix !== '' ? [`--relative=${prefix}`] : []),
      from,
      to,
    ]);
    return parseNameStatus(output.toString('utf8'));
  }

  /** Sorted, unique repo-relative paths that differ between two commits. */
  async changedPaths(from: string, to: string): Promise<string[]> {
    return touchedPaths(await this.changes(from, to));
  }

  /** Fetches more history below the shallow boundary. Revisions limit what is deepened. */
  async deepen(commits: number, revisions: readonly string[] = []): Promise<boolean> {
    revisions.forEach(assertRevision);
    return this.succeeds([
      'fetch',
      '--no-tags',
      '--no-recurse-submodules',
      `--deepen=${Math.max(1, Math.floor(commits))}`,
      this.remote,
      ...revisions,
    ]);
  }

  /**
   * Fetches one commit by sha (GitHub, GitLab and git's protocol v2 allow it). In a
   * shallow clone pass a depth, or the whole history below the commit comes with it.
   */
  async fetchCommit(sha: string, depth?: number): Promise<boolean> {
    assertRevision(sha);
    return this.succeeds([
      'fetch',
      '--no-tags',
      '--no-recurse-submodules',
      ...(depth !== undefined ? [`--depth=${Math.max(1, Math.floor(depth))}`] : []),
      this.remote,
      sha,
    ]);
  }

  /** Fetches a branch of the remote into `refs/remotes/<remote>/<branch>`. */
  async fetchBranch(branch: string, depth?: number): Promise<boolean> {
    assertRevision(branch);
    return this.succeeds([
      'fetch',
      '--no-tags',
      '--no-recurse-submodules',
      ...(depth !== undefined ? [`--depth=${Math.max(1, Math.floor(depth))}`] : []),
      this.remote,
      `+refs/heads/${branch}:refs/remotes/${this.remote}/${branch}`,
    ]);
  }

  /** Fetches the whole history of a shallow clone. */
  async unshallow(): Promise<boolean> {
    if (!(await this.isShallow())) return true;
    return this.succeeds([
      'fetch',
      '--no-tags',
      '--no-recurse-submodules',
      '--unshallow',
      this.remote,
    ]);
  }

  /**
   * Files under the working folder, relative to it: tracked ones, and untracked ones git
   * does not ignore (a local run sees the image you have not committed yet).
   */
  async listFiles(): Promise<string[]> {
    const output = await this.run([
      'ls-files',
      '-z',
      '--cached',
      '--others',
      '--exclude-standard',
      '--deduplicate',
    ]);
    return output
      .toString('utf8')
      .split('\0')
      .filter((path) => path !== '');
  }

  /** A file's content at a revision, or undefined when the revision has no such file. */
  async show(rev: string, path: string): Promise<string | undefined> {
    assertRevision(rev);
    const object = `${rev}:${await this.folderPrefix()}${path.replace(/^\.\//, '')}`;
    const type = await this.exec(['cat-file', '-t', object]);
    if (type.exitCode !== 0 || type.stdout.toString('utf8').trim() !== 'blob') return undefined;
    return (await this.run(['cat-file', 'blob', object])).toString('utf8');
  }

  /**
   * The remote's default branch from `refs/remotes/origin/HEAD`, which git clone sets (CI
   * checkouts usually do not: there the event names the default branch). Undefined when
   * absent; never asks the network.
   */
  async defaultBranchFromRemote(): Promise<string | undefined> {
    const result = await this.exec([
      'symbolic-ref',
      '--quiet',
      '--short',
      `refs/remotes/${this.remote}/HEAD`,
    ]);
    const name = result.stdout.toString('utf8').trim();
    const prefix = `${this.remote}/`;
    return result.exitCode === 0 && name.startsWith(prefix) ? name.slice(prefix.length) : undefined;
  }
}
