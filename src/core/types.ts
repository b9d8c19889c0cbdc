// Shared shapes of the pure planner. Everything here is plain data: JSON-serialisable,
// so a plan can be printed, stored as an output, and read back by a later job.

export type BuilderName = 'auto' | 'buildx' | 'kaniko' | 'buildah' | 'pack';

/** A place in a file, for messages and annotations. Lines and columns are 1-based. */
export interface SourcePosition {
  file: string;
  line?: number;
  column?: number;
}

/** How one discovery convention finds images: a path pattern with a `{name}` placeholder. */
export interface DiscoveryPattern {
  /** e.g. `images/{name}/Dockerfile`, `Dockerfile.{name}`, `{name}/project.toml`; `*` matches one path segment. */
  pattern: string;
  /** Build context, relative to the repository root; default: the folder holding the matched file. */
  context?: string;
  kind: 'dockerfile' | 'buildpacks';
}

export interface TestConfig {
  /** Command run inside the built image (`run`) or on the host with IMAGE set (`command`). */
  run?: string;
  command?: string;
  timeoutSeconds: number;
}

export interface VariantConfig {
  target?: string;
  buildArgs: Record<string, string>;
  /** Applied to the repository prefix (`{prefix}` becomes `<channel>-<variant>-`) unless tagSuffix is set. */
  tagSuffix?: string;
}

/** Per-image settings from the config file; every field optional (conventions fill the rest). */
export interface ImageConfig {
  context?: string;
  dockerfile?: string;
  target?: string;
  buildArgs?: Record<string, string>;
  platforms?: string[];
  dependsOn?: string[];
  watch?: string[];
  variants?: Record<string, VariantConfig>;
  test?: TestConfig;
  builder?: BuilderName;
  /** Overrides the repository naming template for this image. */
  repository?: string;
  tags?: string[];
  /** Where this image's entry starts in the config file. */
  position?: SourcePosition;
}

/** The one frozen, validated configuration a run works from. */
export interface Config {
  /** Repo-relative path of the config file that was read, or undefined when conventions alone apply. */
  file?: string;
  /** Registry host and optional namespace, e.g. `ghcr.io/acme`, `123456789012.dkr.ecr.eu-west-1.amazonaws.com`, `ecr`; '' = none. */
  registry: string;
  /** Repository naming template; placeholders `{registry}`, `{prefix}`, `{image}`. */
  repository: string;
  /** Channel: a name, `user` (the CI user), or '' for none. */
  channel: string;
  /** Literal prefix put before image names; derived from channel when not set. */
  prefix: string;
  builder: BuilderName;
  /** Tag rules: `sha`, `sha-short`, `ref-slug`, `latest`, a fixed tag, or a template with `{{…}}`. */
  tags: string[];
  shaShortLength: number;
  discovery: DiscoveryPattern[];
  /** Global watch globs: a change matching one affects every image. */
  watch: string[];
  /** Paths never considered for discovery (globs). */
  exclude: string[];
  /** Build arguments for every image; values may hold `{registry}` and `{prefix}`. */
  buildArgs: Record<string, string>;
  /** Settings per registry host (with port). */
  registries: Record<string, { insecure: boolean }>;
  /** ECR repositories: create the missing ones, and with which settings. */
  ecr: {
    createRepositories: boolean;
    scanOnPush: boolean;
    tagMutability?: 'MUTABLE' | 'IMMUTABLE';
    lifecyclePolicy?: string;
  };
  defaultBranch?: string;
  maxParallel?: number;
  /** Layer cache of the builders: none, a tag in each image's repository, or GitHub Actions' cache (buildx). */
  cache: CacheMode;
  /** BuildKit settings: values of `--provenance` and `--sbom`; undefined leaves buildx's default. */
  buildx: { provenance?: string; sbom?: string };
  /** Kaniko settings: the executor's path; undefined: the Kaniko images' `/kaniko/executor`. */
  kaniko: { executor?: string };
  /** Buildpacks settings: the pinned builder image and lifecycle version, build-time environment. */
  pack: { builder?: string; lifecycleVersion?: string; env: Record<string, string> };
  /** Two-phase publishing: a staging tag, smoke tests, then the final tags by retag. */
  publish: PublishConfig;
  /** Variants built of every image; an image's own variant of the same name replaces one of these. */
  variants: Record<string, VariantConfig>;
  images: Record<string, ImageConfig>;
}

export type PublishMode = 'per-image' | 'atomic';

export interface PublishConfig {
  /** Set: images are pushed under this tag first and promoted after their tests; unset: as before. */
  stagingTag?: string;
  mode: PublishMode;
}

export type CacheMode = 'none' | 'registry' | 'gha';

/** One image of the repository after discovery and config are combined. */
export interface ImageSpec {
  name: string;
  kind: 'dockerfile' | 'buildpacks';
  /** The file that made it an image (Dockerfile or project.toml), repo-relative. */
  source: string;
  /** Repo-relative build context folder ('.' for the root). */
  context: string;
  /** Repo-relative Dockerfile path (dockerfile kind only). */
  dockerfile?: string;
  target?: string;
  buildArgs: Record<string, string>;
  platforms: string[];
  dependsOn: string[];
  watch: string[];
  builder: BuilderName;
  /** Full repository reference without tag, e.g. `ghcr.io/acme/stable-api`. */
  repository: string;
  /** Tag rules for this image (the global ones unless overridden). */
  tagRules: string[];
  test?: TestConfig;
  variants: Record<string, VariantConfig>;
}

/** A normalised image reference `registry/path[:tag][@digest]`. */
export interface ImageReference {
  /** Registry host with optional port, e.g. `docker.io`, `localhost:5000`. */
  registry: string;
  /** Repository path, e.g. `library/alpine`, `acme/api`. */
  path: string;
  tag?: string;
  digest?: string;
  /** Whether the original text named a registry host. */
  explicitRegistry: boolean;
}

export type ImageUseKind = 'from' | 'copy-from' | 'mount-from';

/** An external image a Dockerfile refers to (not one of its own stages). */
export interface ImageUse {
  kind: ImageUseKind;
  /** The reference after build-arg substitution, as written. */
  text: string;
  reference: ImageReference;
  line: number;
}

export interface DockerfileStage {
  name?: string;
  /** The base as written after substitution: an image, another stage's name, or `scratch`. */
  base: string;
  line: number;
}

export interface DockerfileWarning {
  line: number;
  message: string;
}

export interface DockerfileInfo {
  stages: DockerfileStage[];
  /** External images used by FROM, COPY --from and RUN --mount=from (stage names and scratch excluded). */
  uses: ImageUse[];
  warnings: DockerfileWarning[];
  /**
   * Context paths the build reads (COPY/ADD sources, RUN --mount bind sources), relative to
   * the context root, as written after variable expansion (may be globs); undefined when the
   * build may read anything (e.g. `COPY . .`, a bind mount of the whole context, a source
   * that cannot be resolved).
   */
  contextSources?: string[];
}

export type Platform = 'github' | 'gitlab' | 'local';

export type EventKind =
  'push' | 'pull_request' | 'merge_group' | 'manual' | 'schedule' | 'tag' | 'local';

/** Every CI event in one shape. */
export interface CiEvent {
  platform: Platform;
  kind: EventKind;
  /** The raw event name of the platform (`push`, `pull_request_target`, `merge_request_event`…). */
  sourceEvent: string;
  /** Branch name (for pull/merge requests: the source branch) or tag name. */
  refName: string;
  refType: 'branch' | 'tag';
  /** The commit being built (40 hex). */
  sha: string;
  /** Commit before the push, when the platform tells it; undefined when all zeros or absent. */
  before?: string;
  /** For pull/merge requests and merge queues: the commit to take the merge base with. */
  baseSha?: string;
  /** Target branch name of a pull/merge request, or of a merge queue. */
  baseRef?: string;
  defaultBranch?: string;
  /** Images asked for by name (workflow_dispatch input, --images). */
  requestedImages?: string[];
  /** Build everything (--all, scheduled runs…). */
  all?: boolean;
  /** The CI user, for user channels. */
  actor?: string;
  /** e.g. https://github.com/acme/images, for the source label. */
  repositoryUrl?: string;
  /** `owner/name` on GitHub, for the compare API fallback. */
  repositorySlug?: string;
}

/** What changed, as far as could be known. */
export type ChangeSet =
  | { all: false; paths: string[]; how: string; base?: string; head: string }
  | { all: true; reason: string; head: string };

export type AffectReason =
  | { kind: 'path'; path: string }
  | { kind: 'watch'; path: string; pattern: string }
  | { kind: 'global-watch'; path: string; pattern: string }
  | { kind: 'config'; path: string }
  | { kind: 'parent'; parent: string }
  | { kind: 'all'; reason: string }
  | { kind: 'requested' };
