// Pushes an image written in containers/image's `dir:` format (manifest.json, each blob in
// a file named by its hex digest, an index's images as `<hex>.manifest.json`) through our
// registry client. Builders write there locally, so a push gets the client's retries of
// every request (Buildah 1.28 retries only network errors, not a 503 or a 429), and what is
// pushed is exactly those bytes: the digest is known before the registry is asked.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { ImageReference } from '../core/types.js';
import { createLimit } from '../core/limit.js';
import { DEFAULT_CHUNK_SIZE, cancelUpload, finishUpload, startUpload } from './blob-upload.js';
import { manifestContent, type Descriptor } from './manifest-content.js';
import { MEDIA_TYPES, digestOf } from './client.js';
import type { RegistryClient } from './client.js';
import { RegistryError } from './errors.js';

/**
 * Where blobs already are, per registry: a blob pushed to one repository of a run is
 * mounted into the next (one request, no bytes) instead of uploaded again.
 */
export class BlobLocations {
  private readonly known = new Map<string, ImageReference[]>();

  record(digest: string, where: ImageReference): void {
    const places = this.known.get(digest) ?? [];
    if (!places.some((place) => sameRepository(place, where))) places.push(where);
    this.known.set(digest, places);
  }

  /** Other repositories of `target`'s registry that hold the blob. */
  sourcesFor(digest: string, target: ImageReference): ImageReference[] {
    return (this.known.get(digest) ?? []).filter(
      (place) => place.registry === target.registry && place.path !== target.path,
    );
  }
}

function sameRepository(a: ImageReference, b: ImageReference): boolean {
  return a.registry === b.registry && a.path === b.path;
}

export interface DirectoryPushOptions {
  /** Blobs of earlier pushes, to mount from; this push's blobs are added. */
  locations?: BlobLocations;
  /** Blobs up to this size (default 16 MiB) are read into memory; larger ones streamed. */
  chunkSize?: number;
  /** Tries per blob, each a fresh upload session (default 3): a session broken half-way
   *  (a dropped PATCH) cannot be resumed reliably on every registry. */
  blobAttempts?: number;
}

export interface DirectoryPushResult {
  /** Of the top manifest (the index for several platforms). */
  digest: string;
  blobsUploaded: number;
  blobsMounted: number;
  blobsPresent: number;
  bytesUploaded: number;
}

interface Counts {
  uploaded: number;
  mounted: number;
  present: number;
  bytes: number;
}

const HEX_DIGEST = /^sha256:([a-f0-9]{64})$/;
/** Blobs of one image uploaded at once. */
const BLOBS_AT_ONCE = 4;

function fileOf(dir: string, digest: string, suffix = ''): string {
  const hex = HEX_DIGEST.exec(digest)?.[1];
  if (hex === undefined) throw new Error(`unsupported digest ${digest} in ${dir}`);
  return path.join(dir, `${hex}${suffix}`);
}

function mediaTypeOf(bytes: Buffer): string {
  const parsed = JSON.parse(bytes.toString('utf8')) as { mediaType?: string; manifests?: unknown };
  if (typeof parsed.mediaType === 'string') return parsed.mediaType;
  return Array.isArray(parsed.manifests) ? MEDIA_TYPES.ociIndex : MEDIA_TYPES.ociManifest;
}

/**
 * Pushes the image in `dir` to `target` (a repository with a tag): missing blobs first,
 * then the manifests of an index by digest, then the top manifest under the tag.
 */
export async function pushDirectory(
  client: RegistryClient,
  dir: string,
  target: ImageReference & { tag: string },
  options: DirectoryPushOptions = {},
): Promise<DirectoryPushResult> {
  const counts: Counts = { uploaded: 0, mounted: 0, present: 0, bytes: 0 };
  const top = await readFile(path.join(dir, 'manifest.json')).catch((error: unknown) => {
    throw new Error(`no image to push in ${dir}: ${(error as Error).message}`);
  });
  const topType = mediaTypeOf(top);
  const content = manifestContent({ bytes: top, mediaType: topType });
  if (content.kind === 'index') {
    for (const child of content.manifests) {
      const bytes = await readFile(fileOf(dir, child.digest, '.manifest.json'));
      await pushBlobsOf(client, dir, target, bytes, mediaTypeOf(bytes), counts, options);
      await client.putManifest(target, child.digest, bytes, child.mediaType ?? mediaTypeOf(bytes));
    }
  } else {
    await pushBlobsOf(client, dir, target, top, topType, counts, options);
  }
  const digest = await client.putManifest(target, target.tag, top, topType);
  return {
    digest,
    blobsUploaded: counts.uploaded,
    blobsMounted: counts.mounted,
    blobsPresent: counts.present,
    bytesUploaded: counts.bytes,
  };
}

async function pushBlobsOf(
  client: RegistryClient,
  dir: string,
  target: ImageReference,
  manifest: Buffer,
  mediaType: string,
  counts: Counts,
  options: DirectoryPushOptions,
): Promise<void> {
  const content = manifestContent({ bytes: manifest, mediaType });
  if (content.kind !== 'image') throw new Error(`${dir}: an index inside an index`);
  // A few side by side (each may hold a blob of up to chunkSize in memory); every upload
  // ends (or is cancelled) before an error is reported.
  const limit = createLimit(BLOBS_AT_ONCE);
  const results = await Promise.allSettled(
    content.blobs.map((blob) => limit(() => pushBlob(client, dir, target, blob, counts, options))),
  );
  const failed = results.find((result) => result.status === 'rejected');
  if (failed) throw failed.reason;
}

async function pushBlob(
  client: RegistryClient,
  dir: string,
  target: ImageReference,
  blob: Descriptor,
  counts: Counts,
  options: DirectoryPushOptions,
): Promise<void> {
  const attempts = Math.max(1, options.blobAttempts ?? 3);
  const stored = (): void => options.locations?.record(blob.digest, target);
  for (let attempt = 1; ; attempt++) {
    // Asked on every try: a closing PUT whose answer was lost may have stored the blob.
    if (await client.headBlob(target, blob.digest)) {
      counts.present++;
      stored();
      return;
    }
    try {
      for (const source of options.locations?.sourcesFor(blob.digest, target) ?? []) {
        if (await client.mountBlob(source, target, blob.digest)) {
          counts.mounted++;
          stored();
          return;
        }
      }
      // Read the count after the upload: blobs go side by side.
      const sent = await uploadFile(client, target, fileOf(dir, blob.digest), blob, options);
      counts.bytes += sent;
      counts.uploaded++;
      stored();
      return;
    } catch (error) {
      if (attempt >= attempts || !(error instanceof RegistryError)) throw error;
    }
  }
}

/**
 * One upload session for a blob file, sent whole with the closing PUT, as containerd does:
 * every registry takes it, while chunked PATCHes are mishandled by some (ECR keeps only
 * the first chunk). A blob up to `chunkSize` is read into memory; a larger one is streamed
 * from its file, after a first reading that checks its digest, so a file changed under us
 * is never sent under the wrong name.
 */
async function uploadFile(
  client: RegistryClient,
  target: ImageReference,
  file: string,
  blob: Descriptor,
  options: DirectoryPushOptions,
): Promise<number> {
  const chunkSize = Math.max(1, options.chunkSize ?? DEFAULT_CHUNK_SIZE);
  const { size } = await stat(file);
  if (size !== blob.size) {
    throw new Error(`${file} has ${size} bytes, the manifest says ${blob.size}`);
  }
  const bytes = size <= chunkSize ? await readFile(file) : undefined;
  const actual = bytes ? digestOf(bytes, blob.digest) : await fileDigest(file);
  if (actual !== blob.digest) throw new Error(`${file} has digest ${actual}, not ${blob.digest}`);
  const location = await startUpload(client, target);
  try {
    await finishUpload(
      client,
      target,
      location,
      blob.digest,
      bytes ?? (() => createReadStream(file)),
      size,
    );
    return size;
  } catch (error) {
    await cancelUpload(client, target, location);
    throw error;
  }
}

async function fileDigest(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}
