// The conventions that apply when image-builder.yml is absent or leaves a key out.
// schema/image-builder.schema.json repeats the scalar defaults as `default` annotations
// for editors; __tests__/config/schema.test.ts keeps the two in step.

import type { Config, DiscoveryPattern } from '../core/types.js';

/** Looked for at the repository root, in this order. */
export const CONFIG_FILE_NAMES: readonly string[] = Object.freeze([
  'image-builder.yml',
  'image-builder.yaml',
]);

/**
 * How images are found without a `discovery:` key: the layouts of the seed teams.
 * Order matters: an earlier pattern names a file before a later, more general one
 * (`images/{name}/Dockerfile` before the any-folder pattern that also matches it). No entry sets a context, so
 * the folder holding the matched file is the build context: for side-by-side
 * `Dockerfile.<name>` files that is the shared folder (seed 000 builds from the root).
 */
export const DEFAULT_DISCOVERY: DiscoveryPattern[] = deepFreeze([
  // seed 004: images/<name>/Dockerfile (+ container-assets/ beside it)
  { pattern: 'images/{name}/Dockerfile', kind: 'dockerfile' },
  // a folder per image one level under any folder (docker/<name>/Dockerfile…)
  { pattern: '*/{name}/Dockerfile', kind: 'dockerfile' },
  // seed 001: a folder per image at the root
  { pattern: '{name}/Dockerfile', kind: 'dockerfile' },
  // seed 000: Dockerfile.<name> side by side, sharing their folder as context
  { pattern: 'Dockerfile.{name}', kind: 'dockerfile' },
  { pattern: '*/Dockerfile.{name}', kind: 'dockerfile' },
  { pattern: '{name}.Dockerfile', kind: 'dockerfile' },
  // seed 003: Cloud Native Buildpacks apps, built with pack
  { pattern: '{name}/project.toml', kind: 'buildpacks' },
  { pattern: '*/{name}/project.toml', kind: 'buildpacks' },
]);

/** Full sha, the GitLab-style ref slug, and `latest` (default branch only). */
export const DEFAULT_TAGS: string[] = deepFreeze(['sha', 'ref-slug', 'latest']);

export const DEFAULT_REPOSITORY_TEMPLATE = '{registry}/{prefix}{image}';

/** Git's own default abbreviation length. */
export const DEFAULT_SHA_SHORT_LENGTH = 7;

/** A smoke test that has not answered in five minutes is hung, not slow. */
export const DEFAULT_TEST_TIMEOUT_SECONDS = 300;

export const DEFAULT_BUILDER = 'auto' as const;

/** No layer cache unless asked for: a cache costs registry space or GitHub cache quota. */
export const DEFAULT_CACHE = 'none' as const;

/** Each image whose tests passed is promoted, whatever happened to the others. */
export const DEFAULT_PUBLISH_MODE = 'per-image' as const;

/** The configuration of a repository without image-builder.yml: conventions only. */
export function defaultConfig(): Config {
  return deepFreeze({
    registry: '',
    repository: DEFAULT_REPOSITORY_TEMPLATE,
    channel: '',
    prefix: '',
    builder: DEFAULT_BUILDER,
    tags: [...DEFAULT_TAGS],
    shaShortLength: DEFAULT_SHA_SHORT_LENGTH,
    discovery: DEFAULT_DISCOVERY.map((entry) => ({ ...entry })),
    watch: [],
    exclude: [],
    buildArgs: {},
    registries: {},
    ecr: { createRepositories: false, scanOnPush: true },
    cache: DEFAULT_CACHE,
    buildx: {},
    kaniko: {},
    pack: { env: {} },
    publish: { mode: DEFAULT_PUBLISH_MODE },
    variants: {},
    images: {},
  });
}

/** Freezes a plain-data value and everything it holds; returns it for chaining. */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
