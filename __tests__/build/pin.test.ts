import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { pinFor, writePinnedDockerfile } from '../../src/build/pin.js';
import { DockerfileError, NameError } from '../../src/core/errors.js';
import { parseReference } from '../../src/core/reference.js';
import type { ImageUse } from '../../src/core/types.js';

const BASE = `sha256:${'a'.repeat(64)}`;
const TOOLS = `sha256:${'b'.repeat(64)}`;

function use(text: string, kind: ImageUse['kind'] = 'from'): ImageUse {
  return { kind, text, reference: parseReference(text), line: 1 };
}

describe('pinFor', () => {
  const pins = pinFor(
    new Map([
      ['ghcr.io/acme/base', BASE],
      ['localhost:5000/tools', TOOLS],
    ]),
  );

  it.each<[string, string | undefined]>([
    ['ghcr.io/acme/base', `ghcr.io/acme/base@${BASE}`],
    ['ghcr.io/acme/base:latest', `ghcr.io/acme/base@${BASE}`],
    [`ghcr.io/acme/base@sha256:${'f'.repeat(64)}`, `ghcr.io/acme/base@${BASE}`],
    // Written without a host: the same path under whatever registry we push to.
    ['acme/base:1', `ghcr.io/acme/base@${BASE}`],
    ['tools', `localhost:5000/tools@${TOOLS}`],
    ['localhost:5000/tools:dev', `localhost:5000/tools@${TOOLS}`],
    // Another registry, or another repository that merely starts alike.
    ['docker.io/acme/base', undefined],
    ['quay.io/acme/base:latest', undefined],
    ['ghcr.io/acme/base-dev', undefined],
    ['ghcr.io/acme/base/extra', undefined],
    ['alpine:3.20', undefined],
  ])('%s', (text, expected) => {
    expect(pins(use(text))).toBe(expected);
  });

  it('pins COPY --from and RUN --mount uses as well', () => {
    expect(pins(use('ghcr.io/acme/base:1', 'copy-from'))).toBe(`ghcr.io/acme/base@${BASE}`);
    expect(pins(use('acme/base', 'mount-from'))).toBe(`ghcr.io/acme/base@${BASE}`);
  });

  it('normalises the repositories it is given', () => {
    const official = pinFor(new Map([['docker.io/library/base', BASE]]));
    expect(official(use('base:1'))).toBe(`docker.io/library/base@${BASE}`);
  });

  it('refuses an invalid repository', () => {
    expect(() => pinFor(new Map([['Not A Repo', BASE]]))).toThrow(NameError);
  });
});

describe('writePinnedDockerfile', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'image-builder-pin-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const pins = pinFor(new Map([['ghcr.io/acme/base', BASE]]));
  const dockerfileText = [
    '# syntax=docker/dockerfile:1',
    'ARG REGISTRY=ghcr.io/acme',
    'FROM ${REGISTRY}/base:latest AS build',
    'RUN --mount=type=cache,target=/root/.cache,from=ghcr.io/acme/base:cache make',
    'FROM  debian:12',
    'COPY --from=acme/base:latest /etc/os-release /base-release',
    'COPY --from=build /out /app',
    '',
  ].join('\n');

  it('writes a copy in the work folder with the rebuilt parents pinned, every other byte kept', async () => {
    const workDir = join(root, 'work');
    const file = await writePinnedDockerfile({
      dockerfileText,
      dockerfilePath: 'images/app/Dockerfile',
      buildArgs: {},
      pins,
      workDir,
    });
    expect(file).toBe(join(workDir, 'pinned', 'Dockerfile'));
    expect(await readFile(file, 'utf8')).toBe(
      [
        '# syntax=docker/dockerfile:1',
        'ARG REGISTRY=ghcr.io/acme',
        `FROM ghcr.io/acme/base@${BASE} AS build`,
        `RUN --mount=type=cache,target=/root/.cache,from=ghcr.io/acme/base@${BASE} make`,
        'FROM  debian:12',
        `COPY --from=ghcr.io/acme/base@${BASE} /etc/os-release /base-release`,
        'COPY --from=build /out /app',
        '',
      ].join('\n'),
    );
  });

  it('resolves references with the build-args', async () => {
    const file = await writePinnedDockerfile({
      dockerfileText: 'ARG REGISTRY\nFROM ${REGISTRY}/base\n',
      dockerfilePath: 'app.Dockerfile',
      buildArgs: { REGISTRY: 'ghcr.io/acme' },
      pins,
      workDir: root,
    });
    expect(file).toBe(join(root, 'pinned', 'app.Dockerfile'));
    expect(await readFile(file, 'utf8')).toBe(`ARG REGISTRY\nFROM ghcr.io/acme/base@${BASE}\n`);
  });

  it('copies the Dockerfile-specific .dockerignore along, and drops a stale one', async () => {
    const original = join(root, 'repo', 'app.Dockerfile');
    await mkdir(join(root, 'repo'), { recursive: true });
    await writeFile(original, 'FROM ghcr.io/acme/base\n');
    await writeFile(`${original}.dockerignore`, 'node_modules\n');
    const options = {
      dockerfileText: 'FROM ghcr.io/acme/base\n',
      dockerfilePath: 'app.Dockerfile',
      buildArgs: {},
      pins,
      workDir: join(root, 'work'),
      originalDockerfile: original,
    };
    const file = await writePinnedDockerfile(options);
    expect(await readFile(`${file}.dockerignore`, 'utf8')).toBe('node_modules\n');

    await rm(`${original}.dockerignore`);
    await writePinnedDockerfile(options);
    await expect(readFile(`${file}.dockerignore`, 'utf8')).rejects.toThrow('ENOENT');
  });

  it('reports a Dockerfile it cannot read with its file and line', async () => {
    const writing = writePinnedDockerfile({
      dockerfileText: 'RUN echo no FROM\n',
      dockerfilePath: 'images/bad/Dockerfile',
      buildArgs: {},
      pins,
      workDir: root,
    });
    await expect(writing).rejects.toThrow(DockerfileError);
    await expect(writing).rejects.toThrow(/^images\/bad\/Dockerfile/);
  });
});
