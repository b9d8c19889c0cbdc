import { readFile } from 'node:fs/promises';

const DIGEST = /^sha256:[a-f0-9]{64}$/;

/** The digest a tool wrote to a file (`--digestfile`, `--digest-file`), or undefined when absent or not a digest. */
export async function readDigestFile(file: string): Promise<string | undefined> {
  try {
    const text = (await readFile(file, 'utf8')).trim();
    return DIGEST.test(text) ? text : undefined;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
