// The content of a build context as git object ids, for content keys. Files git tracks and
// that are unmodified take the blob id git already knows (one `ls-files` for the whole
// context, nothing read from disk); modified and untracked ones are hashed by git itself, so
// the ids are the ones `git add` would give (same object format, same clean filters).
// Never through a shell; paths travel NUL-separated, or C-quoted where git wants lines.

import { spawn } from 'node:child_process';
import { lstat, readlink } from 'node:fs/promises';
import { join, posix } from 'node:path';

import type { ContextFileHash } from '../build/content-key.js';
import { GitError } from './git.js';

const SYMLINK_MODE = '120000';

/**
 * Every file of the context `include` accepts, with its git object id and mode, sorted by
 * path. `contextDir` is relative to `repoDir` (the folder the project lives in, which may be
 * a subfolder of the git work tree); `include` gets paths relative to the context, with `/`.
 * Files deleted from the work tree are not in the result; ignored files are, when tracked.
 * A submodule counts as its recorded commit (its work tree is not looked into).
 */
export async function contextFileHashes(
  repoDir: string,
  contextDir: string,
  include: (pathInContext: string) => boolean,
): Promise<ContextFileHash[]> {
  const context = normaliseContext(contextDir);
  const pathspec = context === '' ? '.' : context;
  // Paths of status and of hash-object --stdin-paths are relative to the top of the work
  // tree, whatever folder git runs in; this prefix turns them into repoDir-relative ones.
  const prefix = (await git(repoDir, ['rev-parse', '--show-prefix'])).toString('utf8').trim();

  const [index, status] = await Promise.all([
    git(repoDir, ['--literal-pathspecs', 'ls-files', '-s', '-z', '--full-name', '--', pathspec]),
    git(repoDir, [
      // Status refreshes the index; the optional lock would make concurrent git calls fail.
      '--no-optional-locks',
      '--literal-pathspecs',
      'status',
      '--porcelain',
      '-z',
      '-uall',
      '--no-renames',
      '--ignore-submodules=all',
      '--',
      pathspec,
    ]),
  ]);

  const inContext = (topPath: string): string | undefined => {
    if (!topPath.startsWith(prefix)) return undefined;
    const repoPath = topPath.slice(prefix.length);
    if (context === '') return repoPath;
    return repoPath.startsWith(`${context}/`) ? repoPath.slice(context.length + 1) : undefined;
  };

  // Changed paths: whatever the work tree holds now replaces what the index says.
  const changed = new Set<string>();
  for (const topPath of parseStatus(status)) {
    const path = inContext(topPath);
    if (path !== undefined) changed.add(path);
  }

  const files = new Map<string, ContextFileHash>();
  for (const entry of parseLsFiles(index)) {
    const path = inContext(entry.path);
    if (path !== undefined && !changed.has(path) && include(path)) {
      files.set(path, { path, hash: entry.hash, mode: entry.mode });
    }
  }

  const toHash: { path: string; topPath: string; mode: string }[] = [];
  const links: { path: string; target: Buffer }[] = [];
  for (const path of changed) {
    if (!include(path)) continue;
    const repoPath = context === '' ? path : `${context}/${path}`;
    const absolute = join(repoDir, repoPath);
    const stats = await lstatOrUndefined(absolute);
    if (stats === undefined || stats.isDirectory()) continue;
    if (stats.isSymbolicLink()) {
      links.push({ path, target: await readlink(absolute, { encoding: 'buffer' }) });
    } else if (stats.isFile()) {
      // git records only the owner's execute bit.
      toHash.push({
        path,
        topPath: prefix + repoPath,
        mode: stats.mode & 0o100 ? '100755' : '100644',
      });
    }
  }

  if (toHash.length > 0) {
    const input = toHash.map((file) => `${quoteLine(file.topPath)}\n`).join('');
    const ids = readIds(await git(repoDir, ['hash-object', '--stdin-paths'], input));
    if (ids.length !== toHash.length) {
      throw new Error(`git hash-object printed ${ids.length} ids for ${toHash.length} paths`);
    }
    toHash.forEach((file, i) =>
      files.set(file.path, { path: file.path, hash: ids[i]!, mode: file.mode }),
    );
  }
  // hash-object follows a symlink to its target; git stores the link text itself.
  for (const link of links) {
    const [id] = readIds(
      await git(repoDir, ['hash-object', '--no-filters', '--stdin'], link.target),
    );
    if (id === undefined) throw new Error(`git hash-object printed no id for ${link.path}`);
    files.set(link.path, { path: link.path, hash: id, mode: SYMLINK_MODE });
  }

  return [...files.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

function normaliseContext(contextDir: string): string {
  const normal = posix.normalize(contextDir.replace(/\\/g, '/')).replace(/\/+$/, '');
  if (normal === '.' || normal === '') return '';
  if (normal.startsWith('../') || normal === '..' || normal.startsWith('/')) {
    throw new Error(`context ${contextDir} is not inside the repository folder`);
  }
  return normal.replace(/^\.\//, '');
}

/** `<mode> <object> <stage>\t<path>` records; conflicted paths (stages 1-3) appear in status too. */
function parseLsFiles(output: Buffer): { mode: string; hash: string; path: string }[] {
  const entries: { mode: string; hash: string; path: string }[] = [];
  for (const record of output.toString('utf8').split('\0')) {
    if (record === '') continue;
    const tab = record.indexOf('\t');
    const [mode, hash] = record.slice(0, tab).split(' ');
    if (tab === -1 || mode === undefined || hash === undefined) continue;
    entries.push({ mode, hash, path: record.slice(tab + 1) });
  }
  return entries;
}

/** Paths of `status --porcelain -z`: `XY path`, plus the source path after a rename or copy. */
function parseStatus(output: Buffer): string[] {
  const fields = output.toString('utf8').split('\0');
  const paths: string[] = [];
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i]!;
    if (field.length < 4) continue;
    paths.push(field.slice(3));
    if (field[0] === 'R' || field[0] === 'C') i++;
  }
  return paths;
}

function readIds(output: Buffer): string[] {
  return output
    .toString('utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
}

/**
 * hash-object --stdin-paths reads lines (dropping a final CR) and C-unquotes a line that
 * starts with `"`; so a path with a control character, or starting with a quote, goes quoted.
 */
function quoteLine(path: string): string {
  // eslint-disable-next-line no-control-regex
  if (!/[\x00-\x1f\x7f]/.test(path) && !path.startsWith('"')) return path;
  const escapes: Record<string, string> = {
    '"': '\\"',
    '\\': '\\\\',
    '\n': '\\n',
    '\r': '\\r',
    '\t': '\\t',
  };
  // eslint-disable-next-line no-control-regex
  const quoted = path.replace(/["\\\x00-\x1f\x7f]/g, (char) => {
    return escapes[char] ?? `\\${char.charCodeAt(0).toString(8).padStart(3, '0')}`;
  });
  return `"${quoted}"`;
}

async function lstatOrUndefined(path: string) {
  try {
    return await lstat(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw error;
  }
}

/** Runs git without a shell; resolves with stdout, rejects with GitError unless it exits 0. */
function git(cwd: string, args: readonly string[], input?: string | Buffer): Promise<Buffer> {
  const fullArgs = ['-c', 'core.quotePath=false', ...args];
  return new Promise((resolve, reject) => {
    const child = spawn('git', fullArgs, {
      cwd,
      env: { ...process.env, GIT_TERMINAL_PROMPT: '0' },
      stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout?.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
    if (input !== undefined) child.stdin?.end(input);
    child.once('error', (error) => reject(new GitError(args, null, '', error.message)));
    child.once('close', (code) => {
      const errorText = Buffer.concat(stderr).toString('utf8');
      if (code === 0) resolve(Buffer.concat(stdout));
      else reject(new GitError(args, code, errorText));
    });
  });
}
