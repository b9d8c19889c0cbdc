// Debian's busybox-static: a static shell to copy into images built FROM scratch (no base
// image can be pulled here), so RUN and smoke tests work.
import { access, constants } from 'node:fs/promises';
import { delimiter, join } from 'node:path';

/** The path of the busybox binary on PATH, or an error saying which package provides it. */
export async function findBusybox(): Promise<string> {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const file = join(dir, 'busybox');
    try {
      await access(file, constants.X_OK);
      return file;
    } catch {
      // not in this folder
    }
  }
  throw new Error('busybox is not on PATH (Debian: apt-get install busybox-static)');
}
