// Builds the images of a plan: each on the exact parents this run built, skipping what the
// registry already has, then tags: immutable first, the rest through the registry API, and
// moving tags (latest) only when every image of the run succeeded, and never back to an
// older commit. With a staging tag, each image is tested once pushed, and only what passed
// (with its ancestors) gets its final tags, by retag.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { contextFileHashes } from '../adapters/content-files.js';
import type { BuildahSettings } from '../builders/buildah.js';
import type { Builder, Exec } from '../builders/types.js';
import type { ContextFilter } from '../core/changes.js';
import type { Plan, PlannedImage } from '../core/plan.js';
import { parseReference, repositoryOf } from '../core/reference.js';
import { MOVING_TAG_RULES, refSlug } from '../core/tags.js';
import { plainImageName } from '../core/variants.js';
import type { DockerfileInfo, PublishConfig } from '../core/types.js';
import type { Manifest, RegistryClient } from '../registry/client.js';
import { confirmImmutableTag, isImmutableTagError } from '../registry/ecr.js';
import { createLimit } from '../core/limit.js';
import { contentKey } from './content-key.js';
import { movingTagDecision, verifyMovingTags } from './latest-guard.js';
import type { WrittenTag } from './latest-guard.js';
import { baseImage, finalBase, imageLabels } from './labels.js';
import { pinFor, writePinnedDockerfile } from './pin.js';
import type { Pins } from './pin.js';
import { schedule } from './scheduler.js';
import type { TaskResult } from './scheduler.js';
import { checkSmokeTestRunner, runSmokeTest } from './smoke-test.js';

/** Images whose final tags are written at once at the end of a run. */
const FINAL_TAGS_CONCURRENCY = 8;

/** Tag that records what went into a build, so an identical build is found, not redone. */
export const CONTENT_TAG_PREFIX = 'src-';

export interface ImageOutcome {
  name: string;
  status: 'built' | 'reused' | 'failed' | 'skipped';
  repository: string;
  digest?: string;
  /** Tags that point at `digest` after the run. */
  tags: string[];
  /** Why it failed or was skipped; for `reused`, which tag already had the content. */
  detail?: string;
  seconds?: number;
}

export interface BuildOutcome {
  images: ImageOutcome[];
  /** Tags held back: moving ones (latest…) because some image failed; all final ones in atomic mode. */
  heldBack: string[];
  ok: boolean;
}

export interface BuildEnvironment {
  plan: Plan;
  repoDir: string;
  dockerfiles: ReadonlyMap<string, { text: string; info: DockerfileInfo }>;
  filters: ReadonlyMap<string, ContextFilter>;
  registry: RegistryClient;
  builderFor: (image: PlannedImage) => Builder;
  exec: Exec;
  authFile: string;
  insecure: (host: string) => boolean;
  workDir: string;
  maxParallel: number;
  sourceUrl?: string;
  now: Date;
  log: (line: string) => void;
  /** The digest a tag points at now, once per reference in a run; `unresolved:` when unknown. */
  resolveTag: (reference: string, log: (line: string) => void) => Promise<string>;
  group: <T>(title: string, body: () => Promise<T>) => Promise<T>;
  /** Two-phase publishing; without a staging tag every tag is set at once. */
  publish?: PublishConfig;
  /** Buildah's settings, for smoke tests run inside an image (`test.run`). */
  buildahSettings?: () => BuildahSettings;
  /** `git merge-base --is-ancestor`: keeps moving tags from going back to an older commit. */
  isAncestor?: (ancestor: string, descendant: string) => Promise<boolean>;
}

function hostOf(repository: string): string {
  return parseReference(repository).registry;
}

/** Which of an image's tags move with every build (and so wait for the whole run). */
function movingTags(image: PlannedImage, plan: Plan): string[] {
  const suffix = image.tagSuffix ?? '';
  return image.tags.filter((tag) => {
    if (!tag.endsWith(suffix)) return false;
    const plain = tag.slice(0, tag.length - suffix.length);
    return MOVING_TAG_RULES.has(plain) && plain !== plan.event.sha;
  });
}

/**
 * The repository a Dockerfile names a parent by: the plain image's. A variant's parent
 * (`base+debug`) is pinned there, so `FROM stable-base` builds on `stable-debug-base@…`.
 */
function plainRepository(parent: string, plan: Plan, fallback: string): string {
  const plain = plainImageName(parent);
  return plan.graph.find((node) => node.name === plain)?.repository ?? fallback;
}

async function buildOne(
  image: PlannedImage,
  env: BuildEnvironment,
  parents: ReadonlyMap<string, ImageOutcome>,
  log: (line: string) => void,
  deferred: Map<string, string[]>,
  branchWrites: BranchWrite[],
): Promise<ImageOutcome> {
  const { plan, registry } = env;
  const rebuilt = new Map<string, string>();
  // A parent variant's digest lives in its own repository: a use of the plain repository
  // is pinned to `<variant repository>@<digest>`.
  const redirect = new Map<string, string>();
  const onVariant = (plain: string, repository: string): void => {
    if (plain !== repository)
      redirect.set(repositoryOf(parseReference(plain)), repositoryOf(parseReference(repository)));
  };
  const parentByDigest = new Map<string, string>();
  for (const parent of image.rebuiltParents) {
    const outcome = parents.get(parent);
    if (outcome?.digest === undefined) throw new Error(`parent ${parent} has no digest`);
    const plain = plainRepository(parent, plan, outcome.repository);
    rebuilt.set(plain, outcome.digest);
    onVariant(plain, outcome.repository);
    parentByDigest.set(outcome.digest, parent);
  }

  // A parent not built in this run may have been built for this very commit by an earlier
  // job (one matrix job per level, or a GitLab child pipeline): build on exactly that one.
  for (const parent of image.parents) {
    if (image.rebuiltParents.includes(parent)) continue;
    const variantParent = image.variantParents?.[parent];
    const repository =
      variantParent?.repository ?? plan.graph.find((node) => node.name === parent)?.repository;
    if (repository === undefined) continue;
    const found = await registry
      .headManifest(`${repository}:${variantParent?.tag ?? plan.event.sha}`)
      .catch(() => undefined);
    if (found) {
      const plain = plainRepository(parent, plan, repository);
      rebuilt.set(plain, found.digest);
      onVariant(plain, repository);
      parentByDigest.set(found.digest, parent);
      log(`parent ${parent} was built for this commit by an earlier job: ${found.digest}`);
    }
  }

  const analysed =
    env.dockerfiles.get(image.name) ??
    (image.baseImage !== undefined ? env.dockerfiles.get(image.baseImage) : undefined);
  const pinsPlain = pinFor(rebuilt);
  const pinsNow: Pins = (use) => {
    const pinned = pinsPlain(use);
    if (pinned === undefined) return undefined;
    const at = pinned.indexOf('@');
    const target = redirect.get(pinned.slice(0, at));
    return target === undefined ? pinned : `${target}${pinned.slice(at)}`;
  };
  // Every image the build reads is keyed by the digest it is built on, under the reference
  // as written: a parent rebuilt now by its new digest, a tag by the digest it points at
  // now — so an upstream update (a new debian:bookworm) rebuilds instead of reusing.
  const parentDigests: Record<string, string> = {};
  for (const use of analysed?.info.uses ?? []) {
    const pinned = pinsNow(use);
    if (pinned !== undefined) {
      const digest = pinned.slice(pinned.indexOf('@') + 1);
      parentDigests[use.text] = digest;
      parentByDigest.delete(digest);
    } else if (use.reference.digest === undefined) {
      parentDigests[use.text] = await env.resolveTag(use.text, log);
    }
  }
  // Parents known only through depends-on are keyed by name.
  for (const [digest, parent] of parentByDigest) parentDigests[parent] = digest;
  const dockerfileText =
    analysed?.text ??
    (image.dockerfile ? await readFile(path.join(env.repoDir, image.dockerfile), 'utf8') : '');
  const filter =
    env.filters.get(image.name) ??
    (image.baseImage !== undefined ? env.filters.get(image.baseImage) : undefined);
  const files = await contextFileHashes(
    env.repoDir,
    image.context,
    (inside) => filter?.includes(inside) ?? true,
  );
  const key = contentKey({
    dockerfileText,
    files,
    buildArgs: image.buildArgs,
    ...(image.target !== undefined ? { target: image.target } : {}),
    platforms: image.platforms,
    parentDigests,
    builder: env.builderFor(image).name,
  });
  const contentTag = `${CONTENT_TAG_PREFIX}${key.slice(0, 40)}`;
  const existing = await registry.headManifest(`${image.repository}:${contentTag}`);

  let digest: string;
  let status: ImageOutcome['status'];
  const shaTag = `${plan.event.sha}${image.tagSuffix ?? ''}`;
  const immutable = image.tags.includes(shaTag) ? shaTag : contentTag;
  if (existing) {
    digest = existing.digest;
    status = 'reused';
    log(`already built as ${contentTag} (${digest.slice(0, 19)}), not building again`);
  } else {
    const workDir = path.join(env.workDir, image.name);
    const pins = pinsNow;
    const dockerfile =
      image.dockerfile === undefined
        ? ''
        : rebuilt.size > 0
          ? await writePinnedDockerfile({
              dockerfileText,
              dockerfilePath: image.dockerfile,
              buildArgs: image.buildArgs,
              pins,
              workDir,
              originalDockerfile: path.join(env.repoDir, image.dockerfile),
            })
          : path.join(env.repoDir, image.dockerfile);
    const base = analysed ? finalBase(analysed.info, image.target) : undefined;
    const labels = imageLabels({
      ...(env.sourceUrl !== undefined ? { sourceUrl: env.sourceUrl } : {}),
      revision: plan.event.sha,
      created: env.now,
      title: image.name,
      ...(base !== undefined ? { base: baseImage(base, pins) } : {}),
    });
    const result = await env.builderFor(image).build(
      {
        image: image.name,
        contextDir: path.join(env.repoDir, image.context),
        dockerfile,
        ...(image.target !== undefined ? { target: image.target } : {}),
        buildArgs: image.buildArgs,
        labels,
        platforms: image.platforms,
        pushRef: `${image.repository}:${immutable}`,
        authFile: env.authFile,
        insecure: env.insecure(hostOf(image.repository)),
        workDir,
        keepLocal: hasChildren(image, plan),
      },
      env.exec,
      log,
    );
    digest = result.digest;
    status = 'built';
    log(`pushed ${image.repository}:${immutable} (${digest})`);
  }

  // The content tag and the run's fixed tags go on now; moving tags wait for the whole run.
  // A build was pushed under its immutable tag; a reused one is found by its content tag,
  // and still needs this commit's tags.
  const tags = status === 'built' ? [immutable] : [contentTag];
  const later = new Set(movingTags(image, plan));
  const staging = env.publish?.stagingTag;
  const now = staging === undefined ? [contentTag, ...image.tags] : [contentTag, staging];
  const writeTag = tagWriter(registry, image.repository, digest);
  // The branch's tag moves with every push to it: like latest, never back to an older commit.
  const branchTag = branchTagOf(image, plan);
  const write = async (tag: string): Promise<boolean> => {
    if (tag === branchTag && env.isAncestor !== undefined) {
      const decision = await movingTagDecision({
        registry,
        repository: image.repository,
        tag,
        digest,
        sha: plan.event.sha,
        isAncestor: env.isAncestor,
        log,
      });
      if (decision === 'stay') return false;
      if (decision === 'move') {
        await writeTag(tag);
        branchWrites.push({ image: image.name, repository: image.repository, tag, digest });
      }
    } else if (status === 'built' || !(await pointsAt(registry, image.repository, tag, digest))) {
      // A reused image often has its tags already (a rerun): one HEAD instead of a write.
      await writeTag(tag);
    }
    tags.push(tag);
    return true;
  };
  for (const tag of now) {
    if (tags.includes(tag) || later.has(tag)) continue;
    await write(tag);
  }
  if (staging !== undefined) {
    // Staged: the test runs on what was pushed (also on a reused build: an earlier run's
    // test may have failed); the final tags follow only when it passed.
    if (image.test !== undefined) {
      const builder = env.builderFor(image).name;
      await runSmokeTest(
        {
          image: image.name,
          test: image.test,
          reference: `${image.repository}@${digest}`,
          builder,
          ...(image.test.run !== undefined && env.buildahSettings
            ? { buildah: env.buildahSettings() }
            : {}),
          authFile: env.authFile,
          insecure: env.insecure(hostOf(image.repository)),
          cwd: env.repoDir,
        },
        env.exec,
        log,
      );
    }
    const finals = image.tags.filter((tag) => !tags.includes(tag) && !later.has(tag));
    if (env.publish?.mode === 'atomic') {
      deferred.set(image.name, finals);
    } else {
      const promoted: string[] = [];
      for (const tag of finals) if (await write(tag)) promoted.push(tag);
      if (promoted.length > 0) log(`promoted to ${promoted.join(', ')}`);
    }
  }
  return {
    name: image.name,
    status,
    repository: image.repository,
    digest,
    tags,
    ...(status === 'reused' ? { detail: `already built as ${contentTag}` } : {}),
  };
}

/**
 * Puts tags on one image through the registry API: its manifest is read once, then each
 * tag is one PUT of those bytes. In a repository with immutable tags (ECR), a tag that
 * already points at this digest is success; at another, a clear error.
 */
export function tagWriter(
  registry: RegistryClient,
  repository: string,
  digest: string,
): (tag: string) => Promise<void> {
  let manifest: Promise<Manifest> | undefined;
  return async (tag) => {
    manifest ??= registry.getManifest(`${repository}@${digest}`);
    const { bytes, mediaType } = await manifest.catch((error: unknown) => {
      manifest = undefined;
      throw error;
    });
    try {
      await registry.putManifest(repository, tag, bytes, mediaType);
    } catch (error) {
      if (!isImmutableTagError(error)) throw error;
      await confirmImmutableTag(registry, repository, tag, digest);
    }
  };
}

/** Points `tag` at `digest` (see tagWriter). */
export async function addTag(
  registry: RegistryClient,
  repository: string,
  digest: string,
  tag: string,
): Promise<void> {
  await tagWriter(registry, repository, digest)(tag);
}

/** Whether `repository:tag` is `digest` now; false when unknown. */
async function pointsAt(
  registry: RegistryClient,
  repository: string,
  tag: string,
  digest: string,
): Promise<boolean> {
  const found = await registry.headManifest(`${repository}:${tag}`).catch(() => undefined);
  return found?.digest === digest;
}

/** A guarded tag written while the image's other tags were, for the check at the end. */
interface BranchWrite extends WrittenTag {
  image: string;
}

/** The image's tag named after the branch being built (its ref slug), if it has one. */
function branchTagOf(image: PlannedImage, plan: Plan): string | undefined {
  if (plan.event.refType !== 'branch') return undefined;
  const tag = `${refSlug(plan.event.ref)}${image.tagSuffix ?? ''}`;
  return image.tags.includes(tag) ? tag : undefined;
}

const parentsOfPlan = new WeakMap<Plan, ReadonlySet<string>>();

/** Whether an image of this run is built on `image`, which then stays in local storage. */
function hasChildren(image: PlannedImage, plan: Plan): boolean {
  let parents = parentsOfPlan.get(plan);
  if (parents === undefined) {
    parents = new Set(plan.images.flatMap((other) => other.rebuiltParents));
    parentsOfPlan.set(plan, parents);
  }
  return parents.has(image.name);
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Resolves tags through the registry, each reference once per run. A base that cannot be
 * resolved (no network, no credentials) is keyed by its text: the build still runs.
 */
export function tagResolver(registry: RegistryClient): BuildEnvironment['resolveTag'] {
  const known = new Map<string, Promise<string>>();
  return (reference, log) => {
    let digest = known.get(reference);
    if (digest === undefined) {
      digest = registry.headManifest(reference).then(
        (found) => found?.digest ?? `unresolved:${reference}`,
        (error: unknown) => {
          log(
            `could not resolve ${reference} (${error instanceof Error ? error.message : String(error)}); keyed by its name`,
          );
          return `unresolved:${reference}`;
        },
      );
      known.set(reference, digest);
    }
    return digest;
  };
}

export async function runBuild(env: BuildEnvironment): Promise<BuildOutcome> {
  const { plan } = env;
  const byName = new Map(plan.images.map((image) => [image.name, image]));
  const outcomes = new Map<string, ImageOutcome>();
  const total = plan.images.length;
  const deferred = new Map<string, string[]>();
  const branchWrites: BranchWrite[] = [];
  if (env.publish?.stagingTag !== undefined) {
    // A test this run cannot execute is refused before anything is built.
    for (const image of plan.images) {
      if (image.test) checkSmokeTestRunner(image.name, image.test, env.builderFor(image).name);
    }
  }

  // Builds run side by side, so each image's output is kept and shown as one group when it
  // ends: log groups (GitHub) and sections (GitLab) cannot interleave.
  const results = await schedule(
    plan.images.map((image) => ({ name: image.name, parents: image.rebuiltParents })),
    async (name) => {
      const image = byName.get(name) as PlannedImage;
      const lines: string[] = [];
      const flush = (title: string): Promise<void> =>
        env.group(title, async () => {
          for (const line of lines) env.log(line);
        });
      try {
        const outcome = await buildOne(
          image,
          env,
          outcomes,
          (line) => lines.push(line),
          deferred,
          branchWrites,
        );
        outcomes.set(name, outcome);
        await flush(`${name}: ${outcome.status}`);
        return outcome;
      } catch (error) {
        await flush(`${name}: failed`);
        throw error;
      }
    },
    {
      maxParallel: env.maxParallel,
      onStart: (name, started) => env.log(`[${started}/${total}] ${name}: building`),
      onFinish: (name, result: TaskResult<unknown>) => {
        if (result.status === 'failed') env.log(`${name}: failed: ${describeError(result.error)}`);
        if (result.status === 'skipped') env.log(`${name}: skipped (${result.reason})`);
      },
    },
  );

  const images: ImageOutcome[] = plan.images.map((image) => {
    const result = results.get(image.name);
    if (result?.status === 'done')
      return { ...(result.value as ImageOutcome), seconds: result.seconds };
    if (result?.status === 'failed') {
      return {
        name: image.name,
        status: 'failed',
        repository: image.repository,
        tags: [],
        detail: describeError(result.error),
        seconds: result.seconds,
      };
    }
    return {
      name: image.name,
      status: 'skipped',
      repository: image.repository,
      tags: [],
      detail: result?.status === 'skipped' ? result.reason : 'not run',
    };
  });
  const ok = images.every((image) => image.status === 'built' || image.status === 'reused');
  const outcomeOf = new Map(images.map((image) => [image.name, image]));
  // What builders kept in local storage for children goes now that no build needs it.
  const used = new Set(plan.images.map((image) => env.builderFor(image)));
  for (const builder of used) await builder.finish?.(env.exec, env.log);

  // A failed run never moves latest: consumers of latest get a consistent set or the old one.
  // In atomic mode the same holds for every final tag.
  const heldBack: string[] = [];
  // Moving tags this run wrote, with the outcome that lists them.
  const written: WrittenTag[] = [];
  const writtenBy: ImageOutcome[] = [];
  const { isAncestor } = env;
  // Image by image side by side: each is a few requests, and a run may have hundreds.
  const limit = createLimit(FINAL_TAGS_CONCURRENCY);
  const finalTags = async (image: PlannedImage) => {
    const outcome = outcomeOf.get(image.name) as ImageOutcome;
    const held: string[] = [];
    const wrote: WrittenTag[] = [];
    // Atomic mode's final tags, the branch's among them, then the moving ones: both kinds
    // that move with every push are guarded.
    const branchTag = branchTagOf(image, plan);
    const deferredTags = deferred.get(image.name) ?? [];
    for (const tag of [...deferredTags, ...movingTags(image, plan)]) {
      const guarded = !deferredTags.includes(tag) || tag === branchTag;
      if (!ok || outcome.digest === undefined) {
        held.push(`${image.repository}:${tag}`);
        continue;
      }
      const decision =
        isAncestor === undefined || !guarded
          ? 'move'
          : await movingTagDecision({
              registry: env.registry,
              repository: image.repository,
              tag,
              digest: outcome.digest,
              sha: plan.event.sha,
              isAncestor,
              log: env.log,
            });
      if (decision === 'stay') continue;
      outcome.tags.push(tag);
      if (decision === 'current') continue;
      await addTag(env.registry, image.repository, outcome.digest, tag);
      if (guarded) wrote.push({ repository: image.repository, tag, digest: outcome.digest });
    }
    return { outcome, held, wrote };
  };
  const settled = await Promise.allSettled(
    plan.images.map((image) => limit(() => finalTags(image))),
  );
  // An image whose tags failed is reported after the others' written tags are checked.
  const tagFailure = settled.find((result) => result.status === 'rejected');
  for (const result of settled) {
    if (result.status === 'rejected') continue;
    heldBack.push(...result.value.held);
    for (const tag of result.value.wrote) {
      written.push(tag);
      writtenBy.push(result.value.outcome);
    }
  }
  for (const { image, ...tag } of branchWrites) {
    const outcome = outcomeOf.get(image);
    if (outcome === undefined) continue;
    written.push(tag);
    writtenBy.push(outcome);
  }
  // The check above and the write are two requests: an older run may have written in
  // between. Look again once such writes have landed, and put back what it overwrote.
  if (written.length > 0 && isAncestor !== undefined) {
    const verified = await verifyMovingTags(written, {
      registry: env.registry,
      sha: plan.event.sha,
      isAncestor,
      log: env.log,
      write: (tag) => addTag(env.registry, tag.repository, tag.digest, tag.tag),
    });
    // Another run's image holds the tag now (a newer commit's, or another build of this
    // commit): it is not this run's any more.
    for (const [index, tag] of verified.entries()) {
      const outcome = writtenBy[index];
      if ((tag.state === 'newer' || tag.state === 'same') && outcome) {
        outcome.tags = outcome.tags.filter((name) => name !== tag.tag);
      }
    }
  }
  if (tagFailure?.status === 'rejected') throw tagFailure.reason;
  return { images, heldBack, ok };
}
