// A content key names everything a build reads, so that an image already pushed for the
// same key can be reused instead of built again. It must change whenever the image could,
// and must not change on a rerun of the same sources: so no dates, no commit sha.

import { createHash } from 'node:crypto';

import { VOLATILE_LABELS } from './labels.js';

/** Bumped whenever the serialisation below changes, so old keys never match new ones. */
export const CONTENT_KEY_VERSION = 1;

/** One file of the build context. */
export interface ContextFileHash {
  /** Relative to the context root, `/`-separated. */
  path: string;
  /** Git object id of the content (what `git hash-object` prints). */
  hash: string;
  /** Git file mode: `100644`, `100755` (executable), `120000` (symlink), `160000` (submodule). */
  mode?: string;
}

export interface ContentKeyInput {
  /** The Dockerfile as written (parents are keyed by `parentDigests`, not by the pinned copy). */
  dockerfileText: string;
  /** The context files the build may read (after .dockerignore); any order. */
  files: readonly ContextFileHash[];
  buildArgs: Readonly<Record<string, string>>;
  target?: string;
  /** Any order; empty means the builder's own platform, which is not the same as naming it. */
  platforms: readonly string[];
  /**
   * Digest of each image the build reads by reference: the parents rebuilt in this run, and
   * (to notice an upstream update of a tag) external bases resolved by the caller. A use not
   * listed is keyed by its text in the Dockerfile only.
   */
  parentDigests: Readonly<Record<string, string>>;
  /** The backend and whatever of its version or settings changes its output, e.g. `buildah 1.28.2`. */
  builder: string;
  /** Labels that are part of the image. `created` and `revision` are left out even if given. */
  labelsThatMatter?: Readonly<Record<string, string>>;
}

function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sortedEntries(record: Readonly<Record<string, string>>): [string, string][] {
  return Object.entries(record).sort(([a], [b]) => byCodeUnits(a, b));
}

/**
 * The canonical text a key hashes: JSON of a fixed-order array, every map as entries sorted
 * by key, files sorted by path, platforms sorted and deduplicated. Exported for debugging
 * ("why did this key change?" is answered by diffing two of these).
 *
 * `["image-builder/content-key", 1, dockerfile, target|null, [platforms], [[arg, value]],
 * [[parent, digest]], builder, [[label, value]], [[path, mode|null, hash]]]`
 */
export function contentKeyText(input: ContentKeyInput): string {
  const files = [...input.files].sort((a, b) => byCodeUnits(a.path, b.path));
  for (let i = 1; i < files.length; i++) {
    if (files[i]!.path === files[i - 1]!.path) {
      throw new Error(`content key: the file ${files[i]!.path} is listed twice`);
    }
  }
  const labels = sortedEntries(input.labelsThatMatter ?? {}).filter(
    ([name]) => !VOLATILE_LABELS.includes(name),
  );
  return JSON.stringify([
    'image-builder/content-key',
    CONTENT_KEY_VERSION,
    input.dockerfileText,
    input.target ?? null,
    [...new Set(input.platforms)].sort(byCodeUnits),
    sortedEntries(input.buildArgs),
    sortedEntries(input.parentDigests),
    input.builder,
    labels,
    files.map((file) => [file.path, file.mode ?? null, file.hash]),
  ]);
}

/** sha256 (64 hex digits) of contentKeyText. */
export function contentKey(input: ContentKeyInput): string {
  return createHash('sha256').update(contentKeyText(input), 'utf8').digest('hex');
}
