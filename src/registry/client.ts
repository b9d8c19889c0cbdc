// Registry operations over the transport, after the OCI distribution spec
// (https://github.com/opencontainers/distribution-spec/blob/main/spec.md). A retag is
// crane's (pkg/crane/tag.go): GET the manifest's exact bytes, PUT them under the new tag —
// the registry already holds every blob the manifest names, so no layer moves.
import { createHash } from 'node:crypto';
import { parseReference, validateTag } from '../core/reference.js';
import { NameError } from '../core/errors.js';
import type { ImageReference } from '../core/types.js';
import { pullScope, pushScope } from './auth.js';
import { RegistryError, errorFromResponse } from './errors.js';
import {
  type HttpMethod,
  Transport,
  type TransportOptions,
  type TransportResponse,
} from './transport.js';

export const MEDIA_TYPES = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
} as const;

/** What manifest GET/HEAD accept: the four image manifest types, single and multi-platform. */
export const MANIFEST_ACCEPT = [
  MEDIA_TYPES.ociIndex,
  MEDIA_TYPES.ociManifest,
  MEDIA_TYPES.dockerManifestList,
  MEDIA_TYPES.dockerManifest,
].join(', ');

/** A reference as an ImageReference or as text (`host/repo:tag`, `host/repo@sha256:…`). */
export type ReferenceInput = ImageReference | string;

export interface ManifestDescriptor {
  digest: string;
  mediaType: string;
  size: number;
}

export interface Manifest {
  /** Exactly the bytes the registry holds: re-serialising would change the digest. */
  bytes: Buffer;
  mediaType: string;
  digest: string;
}

/** A client takes what its transport takes. */
export type RegistryClientOptions = TransportOptions;

/** `sha256:<hex>` (or the algorithm of `like`) of some bytes. */
export function digestOf(bytes: Buffer, like = 'sha256:'): string {
  const algorithm = like.slice(0, like.indexOf(':'));
  if (!['sha256', 'sha384', 'sha512'].includes(algorithm)) {
    throw new NameError(`unsupported digest algorithm in "${like}"`);
  }
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
}

function toReference(input: ReferenceInput): ImageReference {
  return typeof input === 'string' ? parseReference(input) : input;
}

/** What a manifest request names: the digest when there is one, else the tag, else latest. */
function manifestReference(ref: ImageReference): string {
  return ref.digest ?? ref.tag ?? 'latest';
}

function ok(response: TransportResponse): boolean {
  return response.status >= 200 && response.status < 300;
}

/** The Content-Type without parameters, or the manifest's own `mediaType` field. */
function mediaTypeOf(response: TransportResponse): string {
  const header = (response.headers.get('content-type') ?? '').split(';')[0]?.trim() ?? '';
  if (header !== '' && header !== 'application/json' && header !== 'application/octet-stream') {
    return header;
  }
  try {
    const parsed: unknown = JSON.parse(response.body.toString('utf8'));
    const field = (parsed as { mediaType?: unknown }).mediaType;
    if (typeof field === 'string' && field !== '') return field;
  } catch {
    // not JSON: keep the header
  }
  return header;
}

/** An OCI distribution registry client: manifests, blob existence and mounts, tags. */
export class RegistryClient {
  readonly transport: Transport;

  constructor(options: RegistryClientOptions) {
    this.transport = new Transport(options);
  }

  /** HTTP requests made so far, pings, token requests, redirects and retries included. */
  get requestCount(): number {
    return this.transport.requestCount;
  }

  /** The manifest's descriptor, or undefined when the tag or digest does not exist. */
  async headManifest(input: ReferenceInput): Promise<ManifestDescriptor | undefined> {
    const ref = toReference(input);
    const response = await this.call(
      'HEAD',
      ref,
      `manifests/${manifestReference(ref)}`,
      [pullScope(ref.path)],
      { Accept: MANIFEST_ACCEPT },
    );
    if (response.status === 404) return undefined;
    if (!ok(response)) throw errorFromResponse(response);
    const digest = response.headers.get('docker-content-digest') ?? ref.digest;
    if (!digest) {
      // Registries must send the digest on HEAD; without it only a GET can tell.
      const manifest = await this.getManifest(ref);
      return {
        digest: manifest.digest,
        mediaType: manifest.mediaType,
        size: manifest.bytes.length,
      };
    }
    return {
      digest,
      mediaType: mediaTypeOf(response),
      size: Number(response.headers.get('content-length') ?? '0'),
    };
  }

  /** The manifest's exact bytes, checked against the digest asked for or announced. */
  async getManifest(input: ReferenceInput): Promise<Manifest> {
    return this.fetchManifest(toReference(input), false);
  }

  /**
   * Uploads a manifest under a tag or digest of a repository and returns its digest, checked
   * to be the digest of the bytes sent when the registry reports one.
   */
  async putManifest(
    repository: ReferenceInput,
    tagOrDigest: string,
    bytes: Buffer,
    mediaType: string,
  ): Promise<string> {
    const ref = toReference(repository);
    if (!tagOrDigest.includes(':')) {
      const problem = validateTag(tagOrDigest);
      if (problem) throw new NameError(problem);
    }
    const response = await this.call(
      'PUT',
      ref,
      `manifests/${tagOrDigest}`,
      [pushScope(ref.path)],
      { 'Content-Type': mediaType },
      bytes,
    );
    if (!ok(response)) throw errorFromResponse(response);
    // What the registry stores must be these very bytes: a registry that converted them
    // (or a proxy that changed them) would leave the tag on another image.
    const reported = response.headers.get('docker-content-digest');
    const sent = digestOf(bytes, reported ?? 'sha256:');
    if (reported !== null && reported !== sent) {
      throw new RegistryError({
        method: 'PUT',
        url: response.url,
        reason: `the registry stored ${reported}, expected ${sent} (the digest of the bytes sent)`,
      });
    }
    return sent;
  }

  /**
   * Adds `targetTag` to the manifest `source` names, in the same repository: one GET and
   * one PUT of the same bytes, no blob request. Returns the digest, the source's.
   */
  async tagManifest(source: ReferenceInput, targetTag: string): Promise<string> {
    const ref = toReference(source);
    const problem = validateTag(targetTag);
    if (problem) throw new NameError(problem);
    // Ask for push rights from the start, so one token serves both requests.
    const manifest = await this.fetchManifest(ref, true);
    // getManifest checked the bytes against the source digest; putManifest checks the
    // registry stored these bytes.
    return this.putManifest(
      { ...ref, tag: targetTag, digest: undefined },
      targetTag,
      manifest.bytes,
      manifest.mediaType,
    );
  }

  /** Whether the repository has the blob. */
  async headBlob(repository: ReferenceInput, digest: string): Promise<boolean> {
    const ref = toReference(repository);
    const response = await this.call('HEAD', ref, `blobs/${digest}`, [pullScope(ref.path)]);
    if (response.status === 404) return false;
    if (!ok(response)) throw errorFromResponse(response);
    return true;
  }

  /** A blob's bytes, checked against its digest; redirects to storage are followed. */
  async getBlob(repository: ReferenceInput, digest: string): Promise<Buffer> {
    const ref = toReference(repository);
    const response = await this.call('GET', ref, `blobs/${digest}`, [pullScope(ref.path)]);
    if (!ok(response)) throw errorFromResponse(response);
    const actual = digestOf(response.body, digest);
    if (actual !== digest) throw errorFromResponse(response, `blob digest mismatch: got ${actual}`);
    return response.body;
  }

  /**
   * Mounts a blob from another repository of the same registry without uploading it.
   * True when mounted (201); false when the registry opened an upload instead (202 — the
   * source is unknown or unreadable), which is then cancelled, or when the registries differ.
   */
  async mountBlob(from: ReferenceInput, to: ReferenceInput, digest: string): Promise<boolean> {
    const source = toReference(from);
    const target = toReference(to);
    if (source.registry !== target.registry) return false;
    const query = new URLSearchParams({ mount: digest, from: source.path });
    const scopes = [pushScope(target.path), pullScope(source.path)];
    const response = await this.call('POST', target, `blobs/uploads/?${query}`, scopes);
    if (response.status === 201) return true;
    if (response.status !== 202) throw errorFromResponse(response);
    const location = response.headers.get('location');
    if (location) {
      try {
        // The upload session would otherwise linger until the registry purges it.
        await this.transport.request({
          method: 'DELETE',
          registry: target.registry,
          path: new URL(location, response.url).toString(),
          scopes: [pushScope(target.path)],
        });
      } catch {
        // best effort
      }
    }
    return false;
  }

  /**
   * Every tag of a repository, following `Link: <…>; rel="next"` pages. `pageSize` asks
   * for pages of that many (`n`); registries may ignore it and answer in one page.
   */
  async listTags(
    repository: ReferenceInput,
    options: { pageSize?: number } = {},
  ): Promise<string[]> {
    const ref = toReference(repository);
    const tags: string[] = [];
    const seen = new Set<string>();
    let path: string | undefined =
      `/v2/${ref.path}/tags/list` + (options.pageSize ? `?n=${options.pageSize}` : '');
    while (path !== undefined) {
      const response = await this.transport.request({
        method: 'GET',
        registry: ref.registry,
        path,
        scopes: [pullScope(ref.path)],
        headers: { Accept: 'application/json' },
      });
      if (!ok(response)) throw errorFromResponse(response);
      let page: { tags?: unknown };
      try {
        page = JSON.parse(response.body.toString('utf8')) as { tags?: unknown };
      } catch {
        throw errorFromResponse(response, 'the tag list is not JSON');
      }
      if (Array.isArray(page.tags)) {
        for (const tag of page.tags) if (typeof tag === 'string') tags.push(tag);
      }
      const next = nextLink(response.headers.get('link'));
      path = undefined;
      if (next) {
        const url = new URL(next, response.url).toString();
        if (!seen.has(url)) {
          seen.add(url);
          path = url;
        }
      }
    }
    return tags;
  }

  private async fetchManifest(ref: ImageReference, forPush: boolean): Promise<Manifest> {
    const response = await this.call(
      'GET',
      ref,
      `manifests/${manifestReference(ref)}`,
      [forPush ? pushScope(ref.path) : pullScope(ref.path)],
      { Accept: MANIFEST_ACCEPT },
    );
    if (!ok(response)) throw errorFromResponse(response);
    const announced = response.headers.get('docker-content-digest') ?? undefined;
    const expected = ref.digest ?? announced;
    let digest: string;
    if (expected) {
      digest = digestOf(response.body, expected);
      if (digest !== expected) {
        throw errorFromResponse(
          response,
          `manifest digest mismatch: expected ${expected}, got ${digest}`,
        );
      }
    } else {
      digest = digestOf(response.body);
    }
    return { bytes: response.body, mediaType: mediaTypeOf(response), digest };
  }

  private call(
    method: HttpMethod,
    ref: ImageReference,
    rest: string,
    scopes: string[],
    headers: Record<string, string> = {},
    body?: Buffer,
  ): Promise<TransportResponse> {
    return this.transport.request({
      method,
      registry: ref.registry,
      path: `/v2/${ref.path}/${rest}`,
      scopes,
      headers,
      ...(body !== undefined ? { body } : {}),
    });
  }
}

/** The target of `rel="next"` in a Link header (RFC 8288), if any. */
export function nextLink(header: string | null): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(/,(?=\s*<)/)) {
    const match = /^\s*<([^>]*)>(.*)$/.exec(part);
    if (!match) continue;
    const params = match[2] ?? '';
    if (/;\s*rel\s*=\s*"?([^";]*\s)?next(\s[^";]*)?"?\s*(;|$)/i.test(params)) return match[1];
  }
  return undefined;
}
