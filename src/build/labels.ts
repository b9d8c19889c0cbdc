// The OCI annotations we put on every image as labels
// (https://github.com/opencontainers/image-spec/blob/main/annotations.md), and the base
// image they name.

import { DockerfileError } from '../core/errors.js';
import { formatReference, parseReference } from '../core/reference.js';
import type { DockerfileInfo, ImageUse } from '../core/types.js';
import type { Pins } from './pin.js';

export const OCI_LABEL = {
  source: 'org.opencontainers.image.source',
  revision: 'org.opencontainers.image.revision',
  created: 'org.opencontainers.image.created',
  title: 'org.opencontainers.image.title',
  baseName: 'org.opencontainers.image.base.name',
  baseDigest: 'org.opencontainers.image.base.digest',
} as const;

/** Labels that differ on every run of the same sources: never part of a content key. */
export const VOLATILE_LABELS: readonly string[] = [OCI_LABEL.created, OCI_LABEL.revision];

export interface BaseImage {
  /** Fully qualified reference without digest, e.g. `docker.io/library/alpine:3.20`. */
  name: string;
  digest?: string;
}

export interface ImageLabelsInput {
  /** e.g. https://github.com/acme/images */
  sourceUrl?: string;
  /** The commit built. */
  revision: string;
  created: Date;
  title: string;
  base?: BaseImage;
}

/** The OCI labels of an image; keys without a value are left out. */
export function imageLabels(input: ImageLabelsInput): Record<string, string> {
  const labels: Record<string, string> = {};
  if (input.sourceUrl) labels[OCI_LABEL.source] = input.sourceUrl;
  labels[OCI_LABEL.revision] = input.revision;
  // RFC 3339 in UTC, e.g. 2024-05-01T12:00:00.000Z (the spec's `created` format).
  labels[OCI_LABEL.created] = input.created.toISOString();
  labels[OCI_LABEL.title] = input.title;
  if (input.base) {
    labels[OCI_LABEL.baseName] = input.base.name;
    if (input.base.digest) labels[OCI_LABEL.baseDigest] = input.base.digest;
  }
  return labels;
}

/**
 * The external image the final stage (or the `target` stage) is built on, following FROMs
 * that name earlier stages. Undefined when that chain ends at `scratch`, or at a reference
 * that could not be resolved (the analysis warned about it). Throws DockerfileError when
 * no stage is named `target`.
 */
export function finalBase(info: DockerfileInfo, target?: string): ImageUse | undefined {
  let index = info.stages.length - 1;
  if (target !== undefined) {
    // Stage names are case-insensitive; the analysis keeps them in lowercase.
    index = info.stages.findIndex((stage) => stage.name === target.toLowerCase());
    if (index === -1) {
      const names = info.stages.flatMap((stage) => (stage.name ? [stage.name] : []));
      throw new DockerfileError(
        `no stage is named "${target}"` +
          (names.length > 0 ? ` (stages: ${names.join(', ')})` : ' (no stage has a name)'),
      );
    }
  }
  // Each step goes to an earlier stage, so the walk ends.
  for (;;) {
    const stage = info.stages[index];
    if (stage === undefined) return undefined;
    const base = stage.base.toLowerCase();
    if (base === 'scratch') return undefined;
    let parent = -1;
    for (let i = 0; i < index && parent === -1; i++) {
      if (info.stages[i]?.name === base) parent = i;
    }
    if (parent === -1) {
      return info.uses.find((use) => use.kind === 'from' && use.line === stage.line);
    }
    index = parent;
  }
}

/**
 * The base image for the labels: the reference as written (normalised, without digest), and
 * the digest it is built on: the one `pins` pins it to (a parent rebuilt in this run), else
 * the one written in the Dockerfile, if any.
 */
export function baseImage(use: ImageUse, pins?: Pins): BaseImage {
  const name = formatReference({ ...use.reference, digest: undefined });
  const pinned = pins?.(use);
  const digest = pinned !== undefined ? parseReference(pinned).digest : use.reference.digest;
  return digest === undefined ? { name } : { name, digest };
}
