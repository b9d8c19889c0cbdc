// A child must be built on the parent pushed moments ago, not on whatever its tag names in
// the registry (a tag this run may not even push, or that a concurrent run moves). So the
// Dockerfile is built from a copy whose references to rebuilt parents read `repo@sha256:…`.

import { copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';

import { pinReferences } from '../core/dockerfile.js';
import { indexRepositories } from '../core/graph.js';
import { parseReference, repositoryOf } from '../core/reference.js';
import type { ImageSpec, ImageUse } from '../core/types.js';

/** Which reference to build a use on instead, or undefined to leave it as written. */
export type Pins = (use: ImageUse) => string | undefined;

/**
 * Pins the uses that name a repository rebuilt in this run (`ghcr.io/acme/base` → its new
 * digest) to `repository@digest`. A use matches a repository by the rule the image graph
 * uses (indexRepositories): the same registry and path, or the same path when the use
 * names no registry host. Throws NameError on an invalid repository name.
 */
export function pinFor(rebuilt: ReadonlyMap<string, string>): Pins {
  const digests = new Map<string, string>();
  const repositories: Pick<ImageSpec, 'name' | 'repository'>[] = [];
  for (const [repository, digest] of rebuilt) {
    const name = repositoryOf(parseReference(repository));
    digests.set(name, digest);
    repositories.push({ name, repository: name });
  }
  // indexRepositories reads only `name` and `repository`.
  const index = indexRepositories(repositories as ImageSpec[]);
  return (use) => {
    const name = index.find(use);
    const digest = name === undefined ? undefined : digests.get(name);
    return name === undefined || digest === undefined ? undefined : `${name}@${digest}`;
  };
}

export interface PinnedDockerfileOptions {
  dockerfileText: string;
  /** Repo-relative path of the Dockerfile, for messages and the copy's name. */
  dockerfilePath: string;
  buildArgs: Readonly<Record<string, string>>;
  pins: Pins;
  /** This build's private folder; the copy goes in `pinned/` inside it. */
  workDir: string;
  /**
   * Absolute path of the original Dockerfile. BuildKit prefers `<Dockerfile>.dockerignore`
   * next to the Dockerfile to the context's `.dockerignore`; when given, that file is copied
   * alongside so the copy builds with the same context.
   */
  originalDockerfile?: string;
}

/**
 * Writes a copy of the Dockerfile with the uses `pins` answers rewritten (every other byte
 * as it was) and returns its absolute path. The copy lives in the work folder, outside the
 * build context, so the context (and what a cache keys on) stays untouched. Throws
 * DockerfileError (file and line) when the Dockerfile cannot be read or a pin is invalid.
 */
export async function writePinnedDockerfile(options: PinnedDockerfileOptions): Promise<string> {
  const text = pinReferences(
    options.dockerfileText,
    options.dockerfilePath,
    { ...options.buildArgs },
    options.pins,
  );
  const dir = resolve(options.workDir, 'pinned');
  await mkdir(dir, { recursive: true });
  const name = basename(options.dockerfilePath) || 'Dockerfile';
  const file = join(dir, name);
  await writeFile(file, text);
  if (options.originalDockerfile !== undefined) {
    const source = `${options.originalDockerfile}.dockerignore`;
    const copy = `${file}.dockerignore`;
    await rm(copy, { force: true });
    try {
      await copyFile(source, copy);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  return file;
}
