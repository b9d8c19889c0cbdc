// What a manifest references (OCI image spec, manifest.md and image-index.md): the child
// manifests of an index, or the config and layers of an image — what a copy or a push must
// move before the manifest itself.
import { MEDIA_TYPES, type Manifest } from './client.js';

/** A content descriptor (OCI image spec, descriptor.md): what a manifest points at. */
export interface Descriptor {
  digest: string;
  size: number;
  mediaType?: string;
  /** Foreign (non-distributable) layers live at these URLs, not in the registry. */
  urls?: string[];
}

/** What a manifest references: child manifests (an index) or blobs (an image manifest). */
export type ManifestContent =
  { kind: 'index'; manifests: Descriptor[] } | { kind: 'image'; blobs: Descriptor[] };

const INDEX_TYPES = new Set<string>([MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerManifestList]);
// Docker's non-distributable layers: registries refuse them, and pullers fetch them from
// their `urls` (go-containerregistry skips them the same way unless asked).
const FOREIGN_LAYER_TYPES = new Set([
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
]);

function descriptorsOf(value: unknown, where: string): Descriptor[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new Error(`the manifest's ${where} is not a list`);
  return value.map((entry: unknown, index) => {
    const record = (typeof entry === 'object' && entry !== null ? entry : {}) as Record<
      string,
      unknown
    >;
    if (typeof record.digest !== 'string' || typeof record.size !== 'number') {
      throw new Error(`the manifest's ${where}[${index}] has no digest and size`);
    }
    const descriptor: Descriptor = { digest: record.digest, size: record.size };
    if (typeof record.mediaType === 'string') descriptor.mediaType = record.mediaType;
    if (Array.isArray(record.urls)) {
      descriptor.urls = record.urls.filter((url): url is string => typeof url === 'string');
    }
    return descriptor;
  });
}

/**
 * Reads what a manifest references. An index or manifest list names child manifests; an
 * image manifest names its config and layers (deduplicated, foreign layers left out).
 * Schema 1 manifests are refused: registries no longer accept them under a new name.
 */
export function manifestContent(manifest: Pick<Manifest, 'bytes' | 'mediaType'>): ManifestContent {
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(manifest.bytes.toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new Error(`the manifest (${manifest.mediaType || 'no media type'}) is not JSON`);
  }
  if (typeof parsed !== 'object' || parsed === null)
    throw new Error('the manifest is not an object');
  if (parsed.schemaVersion === 1) {
    throw new Error('schema 1 manifests cannot be promoted to another repository');
  }
  const mediaType =
    manifest.mediaType || (typeof parsed.mediaType === 'string' ? parsed.mediaType : '');
  if (INDEX_TYPES.has(mediaType) || (mediaType === '' && Array.isArray(parsed.manifests))) {
    return { kind: 'index', manifests: descriptorsOf(parsed.manifests, 'manifests') };
  }
  const blobs: Descriptor[] = [];
  const seen = new Set<string>();
  const add = (descriptor: Descriptor): void => {
    if (seen.has(descriptor.digest)) return;
    if (descriptor.urls?.length || FOREIGN_LAYER_TYPES.has(descriptor.mediaType ?? '')) return;
    seen.add(descriptor.digest);
    blobs.push(descriptor);
  };
  if (parsed.config !== undefined) {
    for (const descriptor of descriptorsOf([parsed.config], 'config')) add(descriptor);
  }
  for (const descriptor of descriptorsOf(parsed.layers, 'layers')) add(descriptor);
  // OCI 1.1 artifacts may carry their payload in `blobs` (the artifact manifest draft).
  for (const descriptor of descriptorsOf(parsed.blobs, 'blobs')) add(descriptor);
  return { kind: 'image', blobs };
}
