// Promotion: staged images (`staging`, `test`, a commit sha) get their release tags
// (`release`, `latest`) by rewriting tags through the registry API, never by pushing
// layers again (crane's tag.go for a retag, its copy for other repositories):
//   - same repository: GET the source manifest once, PUT its exact bytes under each tag;
//   - another repository of the same registry: mount every blob from the source
//     repository, PUT child manifests by digest, then the manifest under its tags;
//   - another registry: copy only the blobs the target lacks, streamed, then the manifests.
// A run resolves every source before it writes anything, moves content before it moves any
// tag, and stops writing at the first failure, so a bad run leaves as little as it can.
//
// Within a repository no HEAD comes before the PUT: a PUT of identical bytes is idempotent,
// and a HEAD per tag would cost more than it saves (1 GET per image + 1 PUT per tag is the
// floor). So a same-repository target is `retagged` even when it already named the digest;
// only the source tag itself is `unchanged`. In other repositories a HEAD per tag is cheap
// next to the transfer it can spare, so there a target already at the digest is `unchanged`
// and not written.
import { NameError, UserError, withContext } from '../core/errors.js';
import { formatReference, parseReference, repositoryOf, validateTag } from '../core/reference.js';
import type { ImageReference } from '../core/types.js';
import type { Manifest, RegistryClient } from '../registry/client.js';
import { RegistryError } from '../registry/errors.js';
import { createLimit } from '../core/limit.js';
import { type ManifestContent, manifestContent } from '../registry/manifest-content.js';
import { BlobTransfers, type CopyBlobOptions } from './copy.js';

export interface PromotionItem {
  /** The image's name, for messages. */
  image: string;
  /** The image to promote: a full reference with a tag or digest (`reg/team/api:staging`). */
  source: string;
  /** Full references to write: another tag of the same repository, another repository,
   *  or another registry. A target naming only a digest copies without tagging. */
  targets: string[];
}

export interface PromoteOptions extends CopyBlobOptions {
  client: RegistryClient;
  items: readonly PromotionItem[];
  /** Requests (and blob transfers) in flight at once; default 8. */
  concurrency?: number;
  log: (line: string) => void;
}

/**
 * - `unchanged`: the target already named the source digest; nothing was written.
 * - `retagged`: one manifest PUT; the target repository already held everything it names.
 * - `mounted`: blobs were mounted from the source repository, then the manifest PUT.
 * - `copied`: blob bytes (only those the target lacked) were uploaded, then the manifest PUT.
 */
export type PromotionAction = 'retagged' | 'mounted' | 'copied' | 'unchanged';

export interface TargetResult {
  ref: string;
  action: PromotionAction;
  /** Blobs and bytes moved for this target. Targets sharing a repository share its
   *  content: the first one written carries the counts, the others are `retagged`. */
  blobsMounted: number;
  blobsCopied: number;
  bytesCopied: number;
}

export interface PromotionResult {
  image: string;
  source: string;
  /** The source manifest's digest, which every target now names. */
  digest: string;
  targets: TargetResult[];
}

/** A promotion that could not start or did not finish; `missing` lists absent sources. */
export class PromotionError extends UserError {
  constructor(
    message: string,
    readonly missing: readonly string[] = [],
  ) {
    super(message);
  }
}

/** A manifest and, for a copy to another repository, everything under it. */
interface Node {
  manifest: Manifest;
  content?: ManifestContent;
  children: Node[];
}

interface Target {
  text: string;
  ref: ImageReference;
  /** What is written: the tag, or the digest for a digest-only target. */
  reference: string;
  /** Short form for messages: the tag within the source repository, else the full ref. */
  label: string;
  result: TargetResult;
  /** Content was moved for this target (mounts or copies happened before its PUT). */
  moved: boolean;
}

interface Job {
  item: PromotionItem;
  source: ImageReference;
  /** `api:staging`, for messages. */
  label: string;
  targets: Target[];
  root?: Node;
}

const isMissing = (error: unknown): boolean =>
  error instanceof RegistryError && error.status === 404;

/** `sha256:0123456789ab`: enough to tell digests apart in a log line. */
function shortDigest(digest: string): string {
  return digest.slice(0, digest.indexOf(':') + 13);
}

/**
 * Promotes each item's source to its targets and returns what happened to each target.
 * Every source is read first: when any is missing, one PromotionError names them all and
 * nothing is written. Errors carry their context: `promoting api:staging to release: …`.
 */
export async function promoteImages(options: PromoteOptions): Promise<PromotionResult[]> {
  const { client, log } = options;
  const concurrency = Math.max(1, options.concurrency ?? 8);
  const limit = createLimit(concurrency);
  const jobs = prepareJobs(options.items);

  // 1. Resolve every source (and, for copies, every child manifest) before any write.
  const failures: { job: Job; error: unknown }[] = [];
  await Promise.all(
    jobs.map((job) =>
      limit(async () => {
        const needsTree = job.targets.some(
          (target) => repositoryOf(target.ref) !== repositoryOf(job.source),
        );
        try {
          job.root = await resolve(client, job.source, needsTree);
        } catch (error) {
          failures.push({ job, error });
        }
      }),
    ),
  );
  // In the order given, not the order the answers came in.
  failures.sort((a, b) => jobs.indexOf(a.job) - jobs.indexOf(b.job));
  const missing = failures.filter(({ error }) => isMissing(error)).map(({ job }) => job);
  if (missing.length > 0) {
    const names = missing.map((job) => `${job.item.image} (${job.item.source})`);
    throw new PromotionError(
      `nothing was promoted: ${missing.length === 1 ? 'a source does' : `${missing.length} sources do`} not exist: ${names.join(', ')}`,
      missing.map((job) => job.item.source),
    );
  }
  const [first] = failures;
  if (first) {
    const others = failures.length > 1 ? ` (and ${failures.length - 1} more)` : '';
    throw withContext(first.error, `reading ${first.job.label}${others}; nothing was promoted`);
  }

  // A target pinned by digest must name the source's.
  for (const job of jobs) {
    const digest = (job.root as Node).manifest.digest;
    for (const target of job.targets) {
      if (target.ref.digest === undefined) continue;
      if (target.ref.digest !== digest) {
        throw new PromotionError(
          `promoting ${job.label} to ${target.label}: the source is ${digest}, not ${target.ref.digest}; nothing was promoted`,
        );
      }
      if (target.ref.tag === undefined && repositoryOf(target.ref) === repositoryOf(job.source)) {
        target.result.action = 'unchanged';
      }
    }
  }

  // 2. Move content into other repositories; no tag changes yet.
  const transfers = new BlobTransfers(client, {
    concurrency,
    chunkSize: options.chunkSize,
    ...(options.tempDir !== undefined ? { tempDir: options.tempDir } : {}),
  });
  const written: string[] = [];
  let failed = false;
  const guard = async (work: () => Promise<void>, context: string): Promise<void> => {
    if (failed) return;
    try {
      await work();
    } catch (error) {
      if (!failed) {
        failed = true;
        const note =
          written.length > 0
            ? ` (already promoted: ${written.slice(0, 10).join(', ')}${written.length > 10 ? ', …' : ''})`
            : '';
        throw withContext(error, context + note);
      }
    }
  };
  const groups = jobs.flatMap((job) => groupsOf(job).map((targets) => ({ job, targets })));
  await settleAll(
    groups.map(({ job, targets }) =>
      limit(() =>
        guard(
          () => prepareRepository(client, transfers, job, targets),
          `promoting ${job.label} to ${targets[0]?.label ?? ''}`,
        ),
      ),
    ),
  );

  // 3. Point every tag at the source digest.
  const puts = jobs.flatMap((job) =>
    job.targets
      .filter((target) => target.result.action !== 'unchanged')
      .map((target) => ({ job, target })),
  );
  await settleAll(
    puts.map(({ job, target }) =>
      limit(() =>
        guard(async () => {
          const manifest = (job.root as Node).manifest;
          await client.putManifest(
            target.ref,
            target.reference,
            manifest.bytes,
            manifest.mediaType,
          );
          target.result.action = actionOf(job, target);
          written.push(target.text);
        }, `promoting ${job.label} to ${target.label}`),
      ),
    ),
  );

  return jobs.map((job) => {
    const digest = (job.root as Node).manifest.digest;
    for (const target of job.targets) {
      const { action, blobsMounted, blobsCopied, bytesCopied } = target.result;
      const moved =
        blobsMounted + blobsCopied > 0
          ? ` (${blobsMounted} blobs mounted, ${blobsCopied} copied, ${bytesCopied} bytes)`
          : '';
      log(`${job.label} -> ${target.label}: ${action}${moved} ${shortDigest(digest)}`);
    }
    return {
      image: job.item.image,
      source: job.item.source,
      digest,
      targets: job.targets.map((target) => target.result),
    };
  });
}

/** Parses and checks every reference before any request; a target written twice is refused. */
function prepareJobs(items: readonly PromotionItem[]): Job[] {
  const writers = new Map<string, string>();
  return items.map((item) => {
    let source: ImageReference;
    try {
      source = parseReference(item.source);
    } catch (error) {
      throw withContext(error, `promoting ${item.image}`);
    }
    const label = `${item.image}:${source.tag ?? source.digest ?? 'latest'}`;
    const seen = new Set<string>();
    const targets: Target[] = [];
    for (const text of item.targets) {
      let ref: ImageReference;
      try {
        ref = parseReference(text);
      } catch (error) {
        throw withContext(error, `promoting ${label} to ${text}`);
      }
      if (ref.tag === undefined && ref.digest === undefined) {
        throw new PromotionError(`promoting ${label} to ${text}: the target names no tag`);
      }
      const key = formatReference(ref);
      if (seen.has(key)) continue;
      seen.add(key);
      const writer = writers.get(key);
      if (writer !== undefined && writer !== item.source) {
        throw new PromotionError(
          `${key} is the target of both ${writer} and ${item.source}: promote one of them`,
        );
      }
      writers.set(key, item.source);
      const sameRepository = repositoryOf(ref) === repositoryOf(source);
      const result: TargetResult = {
        ref: text,
        action: 'retagged',
        blobsMounted: 0,
        blobsCopied: 0,
        bytesCopied: 0,
      };
      // The source tag itself: already there.
      if (sameRepository && ref.tag !== undefined && ref.tag === source.tag && !source.digest) {
        result.action = 'unchanged';
      }
      targets.push({
        text,
        ref,
        reference: ref.tag ?? (ref.digest as string),
        label: sameRepository ? (ref.tag ?? (ref.digest as string)) : formatReference(ref),
        result,
        moved: false,
      });
    }
    return { item, source, label, targets };
  });
}

async function resolve(
  client: RegistryClient,
  ref: ImageReference,
  withChildren: boolean,
): Promise<Node> {
  const manifest = await client.getManifest(ref);
  if (!withChildren) return { manifest, children: [] };
  const content = manifestContent(manifest);
  const children =
    content.kind === 'index'
      ? await Promise.all(
          content.manifests.map((child) =>
            resolve(client, { ...ref, tag: undefined, digest: child.digest }, true).catch(
              (error: unknown) => {
                // A child missing from the source is a broken image, not a missing source.
                throw withContext(
                  isMissing(error) && error instanceof RegistryError
                    ? new PromotionError(error.message)
                    : error,
                  `child manifest ${child.digest}`,
                );
              },
            ),
          ),
        )
      : [];
  return { manifest, content, children };
}

/** Targets outside the source repository, one list per target repository. */
function groupsOf(job: Job): Target[][] {
  const byRepository = new Map<string, Target[]>();
  for (const target of job.targets) {
    const repository = repositoryOf(target.ref);
    if (repository === repositoryOf(job.source)) continue;
    const list = byRepository.get(repository) ?? [];
    list.push(target);
    byRepository.set(repository, list);
  }
  return [...byRepository.values()];
}

/**
 * Makes a target repository hold everything the source manifest names (not the manifest
 * itself: tags move in the next step). Tags already naming the digest are left alone.
 */
async function prepareRepository(
  client: RegistryClient,
  transfers: BlobTransfers,
  job: Job,
  targets: Target[],
): Promise<void> {
  const root = job.root as Node;
  const digest = root.manifest.digest;
  // A HEAD per tag here saves the whole transfer when a run is repeated (and keeps
  // immutable-tag registries from refusing a rewrite of the same tag).
  await Promise.all(
    targets.map(async (target) => {
      if (target.ref.tag === undefined) return;
      const current = await client.headManifest({ ...target.ref, digest: undefined });
      if (current?.digest === digest) target.result.action = 'unchanged';
    }),
  );
  const pending = targets.filter((target) => target.result.action !== 'unchanged');
  const [carrier] = pending;
  if (!carrier) return;
  const repository = { ...carrier.ref, tag: undefined, digest: undefined };
  carrier.moved = await ensureContent(
    client,
    transfers,
    job.source,
    repository,
    root,
    carrier.result,
    true,
  );
}

/**
 * Puts a manifest's blobs (or, for an index, its child manifests, each by digest) into the
 * target repository unless it already holds the manifest. The root is not written here.
 * True when anything had to be moved.
 */
async function ensureContent(
  client: RegistryClient,
  transfers: BlobTransfers,
  source: ImageReference,
  target: ImageReference,
  node: Node,
  counts: TargetResult,
  isRoot: boolean,
): Promise<boolean> {
  const digest = node.manifest.digest;
  if (await client.headManifest({ ...target, digest })) return false;
  const content = node.content as ManifestContent;
  if (content.kind === 'index') {
    await Promise.all(
      node.children.map((child) =>
        ensureContent(client, transfers, source, target, child, counts, false),
      ),
    );
  } else {
    const from = { ...source, tag: undefined, digest: undefined };
    await Promise.all(
      content.blobs.map(async (blob) => {
        const outcome = await transfers.transfer(from, target, blob);
        if (outcome.how === 'mounted') counts.blobsMounted++;
        if (outcome.how === 'copied') {
          counts.blobsCopied++;
          counts.bytesCopied += outcome.bytes;
        }
      }),
    );
  }
  if (!isRoot) {
    await client.putManifest(target, digest, node.manifest.bytes, node.manifest.mediaType);
  }
  return true;
}

function actionOf(job: Job, target: Target): PromotionAction {
  if (!target.moved) return 'retagged';
  // Across registries the manifests themselves are copied even when every blob was there.
  if (target.result.blobsCopied > 0 || target.ref.registry !== job.source.registry) {
    return 'copied';
  }
  return 'mounted';
}

/** Waits for every promise; rethrows the first rejection once all have settled. */
async function settleAll(promises: Promise<unknown>[]): Promise<void> {
  const results = await Promise.allSettled(promises);
  for (const result of results) if (result.status === 'rejected') throw result.reason;
}

export interface PromotionPlanInput {
  images: readonly { name: string; repository: string }[];
  /** The tag the images were staged under (`staging`, `test`). */
  from: string;
  /** The tags to promote to (`release`, `latest`). */
  to: readonly string[];
  /** Names of the images to promote; undefined or empty means all. */
  only?: readonly string[];
}

/**
 * The items of a same-repository promotion: `repository:from` to `repository:<each to>`
 * for each image (or each image named in `only`). Pure; throws NameError for a tag that
 * breaks the OCI grammar and UserError for an unknown name in `only`.
 */
export function planPromotion(input: PromotionPlanInput): PromotionItem[] {
  const tags = [...new Set(input.to)];
  if (tags.length === 0) throw new UserError('promotion needs at least one tag to promote to');
  for (const tag of [input.from, ...tags]) {
    const problem = validateTag(tag);
    if (problem) throw new NameError(`promotion: ${problem}`);
  }
  let images = input.images;
  if (input.only && input.only.length > 0) {
    const known = new Set(images.map((image) => image.name));
    const unknown = [...new Set(input.only)].filter((name) => !known.has(name));
    if (unknown.length > 0) {
      const names = [...known].sort();
      throw new UserError(
        `cannot promote ${unknown.map((name) => `"${name}"`).join(', ')}: no such image; known images: ${names.length > 0 ? names.join(', ') : '(none)'}`,
      );
    }
    const wanted = new Set(input.only);
    images = images.filter((image) => wanted.has(image.name));
  }
  return images.map((image) => {
    const source = `${image.repository}:${input.from}`;
    try {
      parseReference(source);
    } catch (error) {
      throw withContext(error, `promoting ${image.name}`);
    }
    return {
      image: image.name,
      source,
      targets: tags.map((tag) => `${image.repository}:${tag}`),
    };
  });
}
