import { baseImage, finalBase, imageLabels, OCI_LABEL } from '../../src/build/labels.js';
import { analyseDockerfile } from '../../src/core/dockerfile.js';
import { DockerfileError } from '../../src/core/errors.js';
import { parseReference } from '../../src/core/reference.js';
import type { ImageUse } from '../../src/core/types.js';

const CREATED = new Date(Date.UTC(2024, 4, 1, 12, 0, 0));
const DIGEST = `sha256:${'c'.repeat(64)}`;

describe('imageLabels', () => {
  it('gives every OCI annotation it knows', () => {
    expect(
      imageLabels({
        sourceUrl: 'https://github.com/acme/images',
        revision: 'a'.repeat(40),
        created: CREATED,
        title: 'api',
        base: { name: 'docker.io/library/alpine:3.20', digest: DIGEST },
      }),
    ).toEqual({
      'org.opencontainers.image.source': 'https://github.com/acme/images',
      'org.opencontainers.image.revision': 'a'.repeat(40),
      'org.opencontainers.image.created': '2024-05-01T12:00:00.000Z',
      'org.opencontainers.image.title': 'api',
      'org.opencontainers.image.base.name': 'docker.io/library/alpine:3.20',
      'org.opencontainers.image.base.digest': DIGEST,
    });
  });

  it('leaves out what is not known', () => {
    expect(imageLabels({ revision: 'b'.repeat(40), created: CREATED, title: 'tool' })).toEqual({
      [OCI_LABEL.revision]: 'b'.repeat(40),
      [OCI_LABEL.created]: '2024-05-01T12:00:00.000Z',
      [OCI_LABEL.title]: 'tool',
    });
    expect(
      imageLabels({
        sourceUrl: '',
        revision: 'b'.repeat(40),
        created: CREATED,
        title: 'tool',
        base: { name: 'docker.io/library/debian:12' },
      }),
    ).not.toHaveProperty([OCI_LABEL.baseDigest]);
  });

  it('writes created as RFC 3339 in UTC', () => {
    const created = new Date('2024-12-31T23:59:59.5-05:00');
    expect(imageLabels({ revision: 'x', created, title: 't' })[OCI_LABEL.created]).toBe(
      '2025-01-01T04:59:59.500Z',
    );
  });
});

describe('finalBase', () => {
  it.each<[string, string, string | undefined, string | undefined]>([
    ['one stage', 'FROM alpine:3.20\n', undefined, 'docker.io/library/alpine:3.20'],
    [
      'the last stage of several',
      'FROM golang:1.22 AS build\nRUN go build\nFROM gcr.io/distroless/static\nCOPY --from=build /app /\n',
      undefined,
      'gcr.io/distroless/static',
    ],
    [
      'through stages built on stages',
      'FROM node:20 AS base\nFROM base AS deps\nRUN npm ci\nFROM deps\n',
      undefined,
      'docker.io/library/node:20',
    ],
    [
      'a stage named in other case',
      'FROM node:20 AS Base\nFROM BASE\n',
      undefined,
      'docker.io/library/node:20',
    ],
    [
      'scratch',
      'FROM golang:1.22 AS build\nFROM scratch\nCOPY --from=build /app /\n',
      undefined,
      undefined,
    ],
    ['scratch through a stage', 'FROM scratch AS empty\nFROM empty\n', undefined, undefined],
    [
      'the target stage',
      'FROM node:20 AS base\nFROM debian:12 AS tools\nFROM base\n',
      'tools',
      'docker.io/library/debian:12',
    ],
    [
      'a target named in other case',
      'FROM node:20 AS base\nFROM debian:12 AS tools\nFROM base\n',
      'TOOLS',
      'docker.io/library/debian:12',
    ],
    [
      'a name of a later stage is an image',
      'FROM later\nFROM alpine AS later\n',
      undefined,
      'docker.io/library/alpine',
    ],
    ['a base that cannot be resolved', 'FROM ${NOPE}\n', undefined, undefined],
    [
      'a base from build-args',
      'ARG REGISTRY=ghcr.io/acme\nFROM ${REGISTRY}/base:1\n',
      undefined,
      'ghcr.io/acme/base:1',
    ],
  ])('%s', (_name, dockerfile, target, expected) => {
    const use = finalBase(analyseDockerfile(dockerfile, 'Dockerfile'), target);
    expect(use && baseImage(use).name).toBe(expected);
  });

  it('finds the use of the base stage, not a COPY --from of the same image', () => {
    const info = analyseDockerfile(
      'FROM alpine:3.20\nCOPY --from=busybox:1 /bin/busybox /bin/\n',
      'Dockerfile',
    );
    expect(finalBase(info)).toEqual(expect.objectContaining({ kind: 'from', line: 1 }));
  });

  it('refuses a target no stage is named', () => {
    const info = analyseDockerfile('FROM node:20 AS base\nFROM base AS app\n', 'Dockerfile');
    expect(() => finalBase(info, 'test')).toThrow(DockerfileError);
    expect(() => finalBase(info, 'test')).toThrow('no stage is named "test" (stages: base, app)');
  });
});

describe('baseImage', () => {
  const use = (text: string): ImageUse => ({
    kind: 'from',
    text,
    reference: parseReference(text),
    line: 1,
  });
  const pinned = `sha256:${'d'.repeat(64)}`;
  const pins = (found: ImageUse) =>
    found.reference.path === 'acme/base' ? `ghcr.io/acme/base@${pinned}` : undefined;

  it.each<[string, typeof pins | undefined, { name: string; digest?: string }]>([
    ['alpine', undefined, { name: 'docker.io/library/alpine' }],
    [`alpine:3.20@${DIGEST}`, undefined, { name: 'docker.io/library/alpine:3.20', digest: DIGEST }],
    ['ghcr.io/acme/base:latest', pins, { name: 'ghcr.io/acme/base:latest', digest: pinned }],
    ['ghcr.io/acme/other:1', pins, { name: 'ghcr.io/acme/other:1' }],
  ])('%s', (text, pinsFor, expected) => {
    expect(baseImage(use(text), pinsFor)).toEqual(expected);
  });
});
