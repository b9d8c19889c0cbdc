// Real git repositories in temporary folders: a working repo, a bare "remote" made from it,
// and clones of that remote (shallow ones too, over file:// so --depth works locally).
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { findBusybox } from './busybox.js';

const created: string[] = [];

/** Runs git in a folder; rejects with git's stderr. */
export function git(cwd: string, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'git',
      args,
      { cwd, env: { ...process.env, GIT_TERMINAL_PROMPT: '0' }, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error)
          reject(new Error(`git ${args.join(' ')} (in ${cwd}): ${stderr || error.message}`));
        else resolve(stdout.trim());
      },
    );
  });
}

export async function tempDir(prefix = 'image-builder-git-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  created.push(dir);
  return dir;
}

async function configure(dir: string): Promise<void> {
  await git(dir, 'config', 'user.name', 'Image Builder Tests');
  await git(dir, 'config', 'user.email', 'tests@image-builder.invalid');
  await git(dir, 'config', 'commit.gpgsign', 'false');
  await git(dir, 'config', 'tag.gpgsign', 'false');
}

/** A file's new content, or null to delete it. */
export type FileChanges = Record<string, string | null>;

export class TempRepo {
  constructor(readonly dir: string) {}

  git(...args: string[]): Promise<string> {
    return git(this.dir, ...args);
  }

  async write(files: FileChanges): Promise<void> {
    for (const [path, content] of Object.entries(files)) {
      const full = join(this.dir, path);
      if (content === null) {
        await this.git('rm', '-q', '--', path);
      } else {
        await mkdir(dirname(full), { recursive: true });
        await writeFile(full, content);
        await this.git('add', '--', path);
      }
    }
  }

  /** Writes (or deletes) files and commits them; returns the new commit's sha. */
  async commit(message: string, files: FileChanges = {}): Promise<string> {
    await this.write(files);
    await this.git('commit', '-q', '--allow-empty', '-m', message);
    return this.head();
  }

  /** Renames a tracked file (git mv) and commits. */
  async rename(from: string, to: string, message = `rename ${from}`): Promise<string> {
    await mkdir(dirname(join(this.dir, to)), { recursive: true });
    await this.git('mv', '--', from, to);
    await this.git('commit', '-q', '-m', message);
    return this.head();
  }

  head(): Promise<string> {
    return this.git('rev-parse', 'HEAD');
  }

  checkout(...args: string[]): Promise<string> {
    return this.git('checkout', '-q', ...args);
  }

  /** Pushes to the remote `origin` (force with a leading `+` in the refspec). */
  push(...refspecs: string[]): Promise<string> {
    return this.git('push', '-q', 'origin', ...refspecs);
  }
}

/**
 * A new repository whose first commit holds `files` and, at `<folder>/rootfs/bin/busybox`,
 * Debian's static busybox: RUN and smoke tests work in images built FROM scratch.
 */
export async function makeRepoWithBusybox(
  files: FileChanges,
  folder = 'base',
): Promise<{ repo: TempRepo; first: string }> {
  const repo = await makeRepo();
  await repo.write({ ...files, [`${folder}/rootfs/bin/.keep`]: '' });
  await copyFile(await findBusybox(), join(repo.dir, folder, 'rootfs', 'bin', 'busybox'));
  await repo.git('add', '-A');
  const first = await repo.commit('images');
  return { repo, first };
}

/** A new repository on branch `main` with a local identity. */
export async function makeRepo(): Promise<TempRepo> {
  const dir = await tempDir();
  await git(dir, 'init', '-q', '-b', 'main');
  await configure(dir);
  return new TempRepo(dir);
}

export interface Remote {
  /** The bare repository's folder. */
  dir: string;
  /** Its file:// URL (file:// makes --depth and sha fetches behave as over the network). */
  url: string;
  /** Forgets unreachable commits for good, as a server's garbage collection does. */
  gc(): Promise<void>;
}

/** A bare copy of a repo, which then becomes the repo's `origin`. */
export async function makeRemote(repo: TempRepo): Promise<Remote> {
  const dir = join(await tempDir('image-builder-remote-'), 'remote.git');
  await git(repo.dir, 'clone', '-q', '--bare', repo.dir, dir);
  const url = pathToFileURL(dir).href;
  await repo.git('remote', 'add', 'origin', url);
  await repo.git('fetch', '-q', 'origin');
  return {
    dir,
    url,
    async gc() {
      await git(dir, 'reflog', 'expire', '--expire=now', '--all');
      await git(dir, 'gc', '-q', '--prune=now');
    },
  };
}

export interface CloneOptions {
  depth?: number;
  branch?: string;
  /**
   * Speak git's protocol v0, where the server refuses to send commits that no branch
   * points at — so a clone must deepen instead of fetching a commit by sha.
   */
  protocolV0?: boolean;
}

/** Clones the remote as a CI runner would. */
export async function cloneRemote(remote: Remote, options: CloneOptions = {}): Promise<TempRepo> {
  const dir = join(await tempDir('image-builder-clone-'), 'clone');
  const args = ['clone', '-q'];
  if (options.protocolV0) args.push('-c', 'protocol.version=0');
  if (options.depth !== undefined) args.push('--depth', String(options.depth));
  if (options.branch !== undefined) args.push('--branch', options.branch);
  await git(tmpdir(), ...args, remote.url, dir);
  await configure(dir);
  return new TempRepo(dir);
}

/** Removes every folder this module created. */
export async function cleanupRepos(): Promise<void> {
  const dirs = created.splice(0);
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
}
