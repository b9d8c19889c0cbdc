// Blob uploads (distribution spec, "Pushing blobs"): an upload session opened with POST,
// sent whole with the closing PUT or in PATCH chunks with Content-Range, and cancelled with
// DELETE when it cannot finish, so sessions do not linger until the registry purges them.
import type { ImageReference } from '../core/types.js';
import { pushScope } from './auth.js';
import type { RegistryClient } from './client.js';
import { errorFromResponse } from './errors.js';

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

export async function sendChunk(
  client: RegistryClient,
  to: ImageReference,
  location: string,
  chunk: Buffer,
  offset: number,
): Promise<string> {
  const response = await client.transport.request({
    method: 'PATCH',
    registry: to.registry,
    path: location,
    scopes: [pushScope(to.path)],
    headers: {
      'Content-Type': 'application/octet-stream',
      'Content-Range': `${offset}-${offset + chunk.length - 1}`,
    },
    body: chunk,
  });
  if (response.status !== 202) throw errorFromResponse(response);
  // Each answer names where the next chunk goes (the upload state may be in the URL).
  const next = response.headers.get('location');
  return next ? new URL(next, response.url).toString() : location;
}

export async function finishUpload(
  client: RegistryClient,
  to: ImageReference,
  location: string,
  digest: string,
  body?: Buffer,
): Promise<void> {
  const url = new URL(location);
  url.searchParams.set('digest', digest);
  const response = await client.transport.request({
    method: 'PUT',
    registry: to.registry,
    path: url.toString(),
    scopes: [pushScope(to.path)],
    headers: { 'Content-Type': 'application/octet-stream' },
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
