import { readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError } from '../core/errors.js';

/** Reads files of one repository by repo-relative path, and guards against escapes through symlinks. */
export class RepoFiles {
  private rootReal?: string;

  constructor(readonly root: string) {}

  async readText(relative: string): Promise<string | undefined> {
    try {
      return await readFile(path.join(this.root, relative), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  /**
   * Throws when `relative` resolves (through symlinks) to a place outside the repository:
   * a build context there would send files the repository does not own.
   */
  async assertInside(relative: string, what: string, kind: 'file' | 'folder'): Promise<void> {
    this.rootReal ??= await realpath(this.root);
    let real: string;
    try {
      real = await realpath(path.join(this.root, relative));
    } catch {
      throw new ConfigError(`${what} ${relative} does not exist`);
    }
    const inside = path.relative(this.rootReal, real);
    if (inside.startsWith('..') || path.isAbsolute(inside)) {
      throw new ConfigError(`${what} ${relative} leads outside the repository (through a symlink)`);
    }
    const isFolder = (await stat(real)).isDirectory();
    if (isFolder !== (kind === 'folder'))
      throw new ConfigError(`${what} ${relative} is not a ${kind}`);
  }
}

/** Runs `task` over `items` with at most `limit` in flight, keeping the input order in the result. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  task: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
