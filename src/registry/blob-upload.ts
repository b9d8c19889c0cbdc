// Blob uploads (distribution spec, "Pushing blobs"): an upload session opened with POST,
// sent whole with the closing PUT (bytes, or streamed from a file), and cancelled with
// DELETE when it cannot finish, so sessions do not linger until the registry purges them.
import type { ImageReference } from '../core/types.js';
import { pushScope } from './auth.js';
import type { RegistryClient } from './client.js';
import { errorFromResponse } from './errors.js';
import type { RequestBody } from './transport.js';

/** 16 MiB: above the 5 MiB minimum part that S3/GCS-backed registries need, small in memory. */
export const DEFAULT_CHUNK_SIZE = 16 * 1024 * 1024;

/** Opens an upload session; returns the absolute URL to send the blob to. */
export async function startUpload(client: RegistryClient, to: ImageReference): Promise<string> {
  const response = await client.transport.request({
    method: 'POST',
    registry: to.registry,
    path: `/v2/${to.path}/blobs/uploads/`,
    scopes: [pushScope(to.path)],
  });
  const location = response.headers.get('location');
  if (response.status !== 202 || !location) throw errorFromResponse(response);
  return new URL(location, response.url).toString();
}

export async function finishUpload(
  client: RegistryClient,
  to: ImageReference,
  location: string,
  digest: string,
  body?: RequestBody,
  /** The body's length, for a streamed one. */
  size?: number,
): Promise<void> {
  const url = new URL(location);
  url.searchParams.set('digest', digest);
  const response = await client.transport.request({
    method: 'PUT',
    registry: to.registry,
    path: url.toString(),
    scopes: [pushScope(to.path)],
    headers: {
      'Content-Type': 'application/octet-stream',
      ...(typeof body === 'function' && size !== undefined
        ? { 'Content-Length': String(size) }
        : {}),
    },
    ...(body !== undefined ? { body } : {}),
  });
  if (response.status !== 201 && response.status !== 204) throw errorFromResponse(response);
}

export async function cancelUpload(client: RegistryClient, to: ImageReference, location: string) {
  try {
    // Otherwise the session lingers until the registry purges uploads.
    await client.transport.request({
      method: 'DELETE',
      registry: to.registry,
      path: location,
      scopes: [pushScope(to.path)],
    });
  } catch {
    // best effort
  }
}
