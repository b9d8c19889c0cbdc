// Moving an image's blobs between repositories without a daemon: a cross-repository mount where the registry allows it
// (distribution spec, "Mounting a blob from another repository"), else a copy: ranged GETs
// (RFC 9110 §14) from the source into a temporary file and one streamed upload (POST, PUT
// ?digest=) to the target, so a layer is never held in memory whole.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { repositoryOf } from '../core/reference.js';
import type { ImageReference } from '../core/types.js';
import { pullScope } from '../registry/auth.js';
import {
  DEFAULT_CHUNK_SIZE,
  cancelUpload,
  finishUpload,
  startUpload,
} from '../registry/blob-upload.js';
import type { RegistryClient } from '../registry/client.js';
import { createLimit, type Limit } from '../core/limit.js';
import type { Descriptor } from '../registry/manifest-content.js';
import { RegistryError, errorFromResponse } from '../registry/errors.js';

export interface CopyBlobOptions {
  /** The largest piece read and sent at once (default 16 MiB); memory use per copy. */
  chunkSize?: number;
  /** Where a large blob is staged between download and upload (default: the system's). */
  tempDir?: string;
}

/**
 * Copies one blob from `from` to `to` (any registries) and returns the bytes sent. Blobs up
 * to `chunkSize` go in one GET and a monolithic upload (POST, PUT ?digest=); larger ones
 * come down in ranged GETs into a private temporary file (at most one chunk in memory) and
 * go up streamed from it in the closing PUT: chunked PATCHes are mishandled by some
 * registries (ECR keeps only a session's first chunk). The digest is checked before the
 * upload starts.
 */
export async function copyBlob(
  client: RegistryClient,
  from: ImageReference,
  to: ImageReference,
  blob: Descriptor,
  options: CopyBlobOptions = {},
): Promise<number> {
  const chunkSize = Math.max(1, options.chunkSize ?? DEFAULT_CHUNK_SIZE);
  if (blob.size <= chunkSize) {
    // getBlob checks the digest of what it read.
    const bytes = await client.getBlob(from, blob.digest);
    const upload = await startUpload(client, to);
    try {
      await finishUpload(client, to, upload, blob.digest, bytes);
    } catch (error) {
      await cancelUpload(client, to, upload);
      throw error;
    }
    return bytes.length;
  }
  const dir = await mkdtemp(path.join(options.tempDir ?? tmpdir(), 'image-builder-blob-'));
  try {
    const file = path.join(dir, 'blob');
    await download(client, from, blob, file, chunkSize);
    const upload = await startUpload(client, to);
    try {
      await finishUpload(client, to, upload, blob.digest, () => createReadStream(file), blob.size);
    } catch (error) {
      await cancelUpload(client, to, upload);
      throw error;
    }
    return blob.size;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Ranged GETs of a blob into `file`, its digest checked at the end. */
async function download(
  client: RegistryClient,
  from: ImageReference,
  blob: Descriptor,
  file: string,
  chunkSize: number,
): Promise<void> {
  const hash = createHash(algorithmOf(blob.digest));
  const out = await open(file, 'wx', 0o600);
  try {
    let offset = 0;
    while (offset < blob.size) {
      const end = Math.min(blob.size, offset + chunkSize) - 1;
      const response = await client.transport.request({
        method: 'GET',
        registry: from.registry,
        path: `/v2/${from.path}/blobs/${blob.digest}`,
        scopes: [pullScope(from.path)],
        headers: { Range: `bytes=${offset}-${end}` },
      });
      let chunk: Buffer;
      if (response.status === 200 && offset === 0) {
        // The registry (or its storage) ignores Range and sent the whole blob: use it.
        if (response.body.length !== blob.size) {
          throw errorFromResponse(
            response,
            `expected ${blob.size} bytes, got ${response.body.length}`,
          );
        }
        chunk = response.body;
      } else if (response.status === 206) {
        chunk = response.body;
        if (chunk.length !== end - offset + 1) {
          throw errorFromResponse(
            response,
            `asked for bytes ${offset}-${end}, got ${chunk.length} bytes`,
          );
        }
      } else {
        throw errorFromResponse(response);
      }
      hash.update(chunk);
      await out.write(chunk, 0, chunk.length, offset);
      offset += chunk.length;
    }
  } finally {
    await out.close();
  }
  const actual = `${algorithmOf(blob.digest)}:${hash.digest('hex')}`;
  if (actual !== blob.digest) {
    throw new RegistryError({
      method: 'GET',
      url: `${client.transport.baseUrl(from.registry)}/v2/${from.path}/blobs/${blob.digest}`,
      reason: `blob digest mismatch: got ${actual}`,
    });
  }
}

function algorithmOf(digest: string): string {
  return digest.slice(0, digest.indexOf(':'));
}

/** How one blob reached a target repository. */
export type BlobOutcome =
  { how: 'present'; bytes: 0 } | { how: 'mounted'; bytes: 0 } | { how: 'copied'; bytes: number };

/**
 * Blob transfers of one promotion run. Within a registry a blob is mounted from the
 * source repository (one request, whether the target had it or not), falling back to a
 * copy when the registry opens an upload instead; across registries the target is asked
 * first (HEAD) and only a missing blob is copied. Each blob goes to each repository once
 * per run, however many images share it (base layers).
 */
export class BlobTransfers {
  private readonly done = new Map<string, Promise<BlobOutcome>>();
  private readonly limited: Limit;

  constructor(
    private readonly client: RegistryClient,
    private readonly options: CopyBlobOptions & { concurrency?: number } = {},
  ) {
    this.limited = createLimit(options.concurrency ?? 8);
  }

  transfer(from: ImageReference, to: ImageReference, blob: Descriptor): Promise<BlobOutcome> {
    const key = `${repositoryOf(to)}@${blob.digest}`;
    let pending = this.done.get(key);
    if (!pending) {
      pending = this.limited(() => this.move(from, to, blob));
      // A failure is not remembered: another image may try again.
      pending.catch(() => this.done.delete(key));
      this.done.set(key, pending);
      return pending;
    }
    // Another image already moved (or is moving) it: nothing to count here.
    return pending.then(() => ({ how: 'present', bytes: 0 }));
  }

  private async move(
    from: ImageReference,
    to: ImageReference,
    blob: Descriptor,
  ): Promise<BlobOutcome> {
    if (from.registry === to.registry) {
      if (await this.client.mountBlob(from, to, blob.digest)) return { how: 'mounted', bytes: 0 };
    } else if (await this.client.headBlob(to, blob.digest)) {
      return { how: 'present', bytes: 0 };
    }
    const bytes = await copyBlob(this.client, from, to, blob, this.options);
    return { how: 'copied', bytes };
  }
}
