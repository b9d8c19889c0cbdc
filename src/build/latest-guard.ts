// `latest` never goes backwards: two runs that finish out of order would otherwise leave a
// moving tag on the older commit. Before moving one, the revision label of the image it
// points at now is read; when that commit descends from this run's, the tag stays.
import { MEDIA_TYPES } from '../registry/client.js';
import type { RegistryClient } from '../registry/client.js';

export const REVISION_LABEL = 'org.opencontainers.image.revision';

const FULL_SHA = /^[0-9a-f]{40}$/;

interface ManifestJson {
  mediaType?: string;
  config?: { digest?: string };
  manifests?: { digest?: string }[];
}

/**
 * The revision label of the image a reference points at, or undefined when there is none
 * (or the reference does not exist). A multi-platform index is read through its first image:
 * every platform of one build carries the same labels.
 */
export async function revisionAt(
  registry: RegistryClient,
  repository: string,
  reference: string,
): Promise<string | undefined> {
  const separator = reference.startsWith('sha256:') ? '@' : ':';
  let manifest = await registry.getManifest(`${repository}${separator}${reference}`);
  let parsed = JSON.parse(manifest.bytes.toString('utf8')) as ManifestJson;
  const isIndex =
    manifest.mediaType === MEDIA_TYPES.ociIndex ||
    manifest.mediaType === MEDIA_TYPES.dockerManifestList ||
    Array.isArray(parsed.manifests);
  if (isIndex) {
    const first = parsed.manifests?.[0]?.digest;
    if (first === undefined) return undefined;
    manifest = await registry.getManifest(`${repository}@${first}`);
    parsed = JSON.parse(manifest.bytes.toString('utf8')) as ManifestJson;
  }
  const configDigest = parsed.config?.digest;
  if (configDigest === undefined) return undefined;
  const config = JSON.parse(
    (await registry.getBlob(repository, configDigest)).toString('utf8'),
  ) as {
    config?: { Labels?: Record<string, string> | null };
  };
  return config.config?.Labels?.[REVISION_LABEL];
}

export interface MovingTagCheck {
  registry: RegistryClient;
  repository: string;
  tag: string;
  /** What the run would point the tag at. */
  digest: string;
  /** This run's commit. */
  sha: string;
  /** Whether `ancestor` is an ancestor of `descendant` (git merge-base --is-ancestor). */
  isAncestor: (ancestor: string, descendant: string) => Promise<boolean>;
  log: (line: string) => void;
}

/**
 * Whether the moving tag may move to `digest`. It stays only when the image it points at
 * now was built from a commit that descends from this run's; an unknown revision, one not in
 * the local history, or a registry that cannot tell: the tag moves, as without the guard.
 */
export async function mayMoveTag(check: MovingTagCheck): Promise<boolean> {
  const { registry, repository, tag, sha } = check;
  const current = await registry.headManifest(`${repository}:${tag}`).catch(() => undefined);
  if (current === undefined || current.digest === check.digest) return true;
  const revision = await revisionAt(registry, repository, tag).catch(() => undefined);
  if (revision === undefined || !FULL_SHA.test(revision) || revision === sha) return true;
  const newer = await check.isAncestor(sha, revision).catch(() => false);
  if (!newer) return true;
  check.log(
    `${repository}: ${tag} stays on ${revision.slice(0, 7)}: it is newer than ${sha.slice(0, 7)}`,
  );
  return false;
}
