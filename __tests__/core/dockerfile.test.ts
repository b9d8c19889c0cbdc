import { analyseDockerfile, pinReferences } from '../../src/core/dockerfile.js';
import { DockerfileError } from '../../src/core/errors.js';
import type { DockerfileInfo, ImageUse } from '../../src/core/types.js';

const DIGEST = `sha256:${'0123456789abcdef'.repeat(4)}`;
const FILE = 'images/api/Dockerfile';

/** Uses as `kind text @line`, the shape most tables compare. */
function uses(info: DockerfileInfo): string[] {
  return info.uses.map((use) => `${use.kind} ${use.text} @${use.line}`);
}

function lines(...text: string[]): string {
  return `${text.join('\n')}\n`;
}

function caught(run: () => unknown): DockerfileError {
  try {
    run();
  } catch (error) {
    if (error instanceof DockerfileError) return error;
    throw error;
  }
  throw new Error('expected a DockerfileError');
}

describe('analyseDockerfile: stages and uses', () => {
  test('multi-stage: stage names are not images, other references are', () => {
    const info = analyseDockerfile(
      lines(
        'FROM golang:1.22 AS Builder',
        'RUN go build ./...',
        'FROM builder AS test',
        'COPY --from=builder /src/app /app',
        'COPY --from=acme/tools:1 /bin/tool /bin/tool',
        'COPY --from=0 /x /x',
        'FROM scratch',
        'COPY --from=TEST /app /app',
        'COPY --from=ghcr.io/acme/assets /a /a',
      ),
      FILE,
    );
    expect(info.stages).toEqual([
      { name: 'builder', base: 'golang:1.22', line: 1 },
      { name: 'test', base: 'builder', line: 3 },
      { base: 'scratch', line: 7 },
    ]);
    expect(uses(info)).toEqual([
      'from golang:1.22 @1',
      'copy-from acme/tools:1 @5',
      'copy-from ghcr.io/acme/assets @9',
    ]);
    expect(info.uses[1]?.reference).toEqual({
      registry: 'docker.io',
      path: 'acme/tools',
      tag: '1',
      explicitRegistry: false,
    });
    expect(info.warnings).toEqual([]);
  });

  test.each<[string, string, string[]]>([
    [
      'FROM may only name an earlier stage: a later stage name is an image',
      lines('FROM later AS first', 'FROM alpine AS later'),
      ['from later @1', 'from alpine @2'],
    ],
    [
      'COPY --from may name a later stage',
      lines('FROM alpine AS first', 'COPY --from=second /x /x', 'FROM debian AS second'),
      ['from alpine @1', 'from debian @3'],
    ],
    [
      'COPY --from a numeric stage index is no image',
      lines('FROM alpine', 'FROM debian', 'COPY --from=0 /a /a', 'COPY --from=1 /b /b'),
      ['from alpine @1', 'from debian @2'],
    ],
    [
      'a stage-based stage is no image, the same text with a tag is',
      lines('FROM alpine AS base', 'FROM base', 'FROM base:1'),
      ['from alpine @1', 'from base:1 @3'],
    ],
    [
      'lowercase keywords and as',
      lines('from alpine:3 as build', 'copy --from=acme/x /a /b'),
      ['from alpine:3 @1', 'copy-from acme/x @2'],
    ],
    ['FROM scratch is no image', lines('FROM scratch', 'COPY app /app'), []],
    [
      'RUN --mount from= a stage, an image, two mounts on one RUN',
      lines(
        'FROM alpine AS base',
        'FROM alpine',
        'RUN --mount=type=cache,target=/x,from=base --mount=type=bind,source=/s,from=acme/src:2,target=/s \\',
        '    --mount=type=bind,from=ghcr.io/acme/data,target=/d make',
      ),
      [
        'from alpine @1',
        'from alpine @2',
        'mount-from acme/src:2 @3',
        'mount-from ghcr.io/acme/data @3',
      ],
    ],
    [
      'a --mount without from= uses nothing; a quoted CSV field is read',
      lines(
        'FROM alpine',
        'RUN --mount=type=cache,target=/root/.cache go build',
        'RUN --mount=type=bind,"from=acme/q:1",target=/q true',
      ),
      ['from alpine @1', 'mount-from acme/q:1 @3'],
    ],
    [
      'RUN --mount from= a numeric stage index is no image',
      lines('FROM alpine', 'RUN --mount=type=bind,from=0,target=/x true'),
      ['from alpine @1'],
    ],
    [
      'comments, and comment lines inside a continuation',
      lines(
        '# syntax=docker/dockerfile:1',
        '# FROM commented:1',
        'FROM \\',
        '# a comment inside the instruction',
        '  alpine:3 AS a',
        '   # COPY --from=commented:2 / /',
      ),
      ['from alpine:3 @3'],
    ],
    [
      'continuation lines inside FROM, also splitting the image token',
      lines(
        'FROM \\',
        '  ghcr.io/acme/base:1 \\',
        '  AS app',
        'FROM ghcr.io/acme/\\',
        'other:2',
        'FROM ghcr.io/acme/\\',
        '# a comment line between the halves of a token',
        '',
        'third:3',
      ),
      [
        'from ghcr.io/acme/base:1 @1',
        'from ghcr.io/acme/other:2 @4',
        'from ghcr.io/acme/third:3 @6',
      ],
    ],
    [
      'heredoc bodies are not instructions',
      lines(
        'FROM alpine:3.19',
        'RUN <<EOF',
        'set -e',
        'FROM evil',
        'COPY --from=evil2 / /',
        'EOF',
        'COPY <<-CONF /etc/app.conf',
        '\tFROM evil3',
        '\tCONF',
        'RUN <<"SCRIPT" bash',
        'FROM evil4',
        'SCRIPT',
        'FROM debian:12',
      ),
      ['from alpine:3.19 @1', 'from debian:12 @13'],
    ],
    [
      'the escape directive with backtick continuations',
      [
        '# escape=`',
        'FROM mcr.microsoft.com/windows/servercore:ltsc2022 `',
        '  AS build',
        'COPY --from=acme/tools:1 C:\\tools C:\\tools',
        'RUN --mount=type=bind,from=acme/src:2,target=C:\\src `',
        '    dir C:\\src',
        'FROM mcr.microsoft.com/windows/`',
        'nanoserver:ltsc2022',
        '',
      ].join('\r\n'),
      [
        'from mcr.microsoft.com/windows/servercore:ltsc2022 @2',
        'copy-from acme/tools:1 @4',
        'mount-from acme/src:2 @5',
        'from mcr.microsoft.com/windows/nanoserver:ltsc2022 @7',
      ],
    ],
    [
      'platform args in --platform= are fine',
      lines(
        'FROM --platform=$BUILDPLATFORM golang:1.22 AS build',
        'FROM --platform=${TARGETPLATFORM} alpine',
      ),
      ['from golang:1.22 @1', 'from alpine @2'],
    ],
  ])('%s', (_title, text, expected) => {
    const info = analyseDockerfile(text, FILE);
    expect(uses(info)).toEqual(expected);
    expect(info.warnings).toEqual([]);
  });

  test('the escape directive makes a backslash an ordinary character', () => {
    const info = analyseDockerfile(
      lines('# escape=`', 'FROM alpine', 'COPY --from=acme/tools:1 C:\\ D:\\'),
      FILE,
    );
    expect(uses(info)).toEqual(['from alpine @2', 'copy-from acme/tools:1 @3']);
  });

  test('stage names are lowercased, bases kept as written after substitution', () => {
    const info = analyseDockerfile(
      lines('ARG BASE=alpine:3', 'FROM ${BASE} AS Build', 'FROM BUILD AS final'),
      FILE,
    );
    expect(info.stages).toEqual([
      { name: 'build', base: 'alpine:3', line: 2 },
      { name: 'final', base: 'BUILD', line: 3 },
    ]);
    expect(uses(info)).toEqual(['from alpine:3 @2']);
  });
});

describe('analyseDockerfile: ARG substitution', () => {
  const globals = lines(
    'ARG REGISTRY=ghcr.io/acme',
    'ARG BASE_TAG=1',
    'FROM ${REGISTRY}/base:${BASE_TAG}',
  );

  test.each<[Record<string, string>, string]>([
    [{}, 'ghcr.io/acme/base:1'],
    [{ BASE_TAG: '2' }, 'ghcr.io/acme/base:2'],
    [{ REGISTRY: 'localhost:5000' }, 'localhost:5000/base:1'],
    [{ REGISTRY: 'localhost:5000', BASE_TAG: 'pr-7', UNUSED: 'x' }, 'localhost:5000/base:pr-7'],
  ])('ARG defaults before FROM, build-args %j', (buildArgs, expected) => {
    expect(uses(analyseDockerfile(globals, FILE, buildArgs))).toEqual([`from ${expected} @3`]);
  });

  // ARG V has no default, ARG E is empty, ARG S is set.
  const declarations = ['ARG V', 'ARG E=', 'ARG S=busybox', 'ARG Q="acme/quoted"'];

  test.each<[string, Record<string, string>, string]>([
    ['FROM $S:1.36', {}, 'busybox:1.36'],
    ['FROM ${S}', {}, 'busybox'],
    ['FROM ${V:-alpine}', {}, 'alpine'],
    ['FROM ${V:-alpine}', { V: 'debian' }, 'debian'],
    ['FROM ${E:-alpine}', {}, 'alpine'],
    ['FROM ${V-alpine}', {}, 'alpine'],
    ['FROM alpine${E-:3}', {}, 'alpine'],
    ['FROM alpine${V-:3}', {}, 'alpine:3'],
    ['FROM ${S:+acme/}alpine', {}, 'acme/alpine'],
    ['FROM ${V:+acme/}alpine', {}, 'alpine'],
    ['FROM ${E+acme/}alpine', {}, 'acme/alpine'],
    ['FROM ${E:+acme/}alpine', {}, 'alpine'],
    ['FROM ${V+acme/}alpine', {}, 'alpine'],
    ['FROM ${V:-${S}}', {}, 'busybox'],
    ['FROM ${V:-$S}:1', { S: 'ubuntu' }, 'ubuntu:1'],
    ['FROM "${S}:1"', {}, 'busybox:1'],
    ['FROM $Q', {}, 'acme/quoted'],
  ])('%s with build-args %j', (from, buildArgs, expected) => {
    const info = analyseDockerfile(lines(...declarations, from, 'RUN true'), FILE, buildArgs);
    expect(uses(info)).toEqual([`from ${expected} @5`]);
    expect(info.warnings).toEqual([]);
  });

  test('single quotes keep a variable literal', () => {
    const error = caught(() => analyseDockerfile(lines(...declarations, "FROM '${S}'"), FILE));
    expect(error.message).toContain(`${FILE}:5: FROM '\${S}': invalid image reference "\${S}"`);
  });

  test('an ARG default may use an earlier ARG', () => {
    const text = lines('ARG TAG=3.19', 'ARG BASE=alpine:${TAG}', 'FROM $BASE');
    expect(uses(analyseDockerfile(text, FILE))).toEqual(['from alpine:3.19 @3']);
    expect(uses(analyseDockerfile(text, FILE, { TAG: '3.20' }))).toEqual(['from alpine:3.20 @3']);
    expect(uses(analyseDockerfile(text, FILE, { BASE: 'debian' }))).toEqual(['from debian @3']);
  });

  test.each([
    ['FROM a\\$A', 'a$A'],
    ['FROM "a\\$A"', 'a$A'],
    ['FROM "a\\\\$A"', 'a\\x'],
    ['FROM "a\\b"', 'a\\b'],
  ])('escapes: %s reads as %s', (from, expected) => {
    const error = caught(() => analyseDockerfile(lines('ARG A=x', from), FILE));
    expect(error.message).toContain(`invalid image reference "${expected}"`);
  });

  test.each<[string, string[], number]>([
    ['FROM ${TARGETARCH+acme/}alpine', ['from acme/alpine @1'], 0],
    ['FROM ${TARGETARCH:+acme/}alpine', [], 1],
    ['FROM alpine:${TARGETARCH:-amd64}', [], 1],
  ])('a platform arg is set, its value unknown: %s', (from, expected, warnings) => {
    const info = analyseDockerfile(lines(from), FILE);
    expect(uses(info)).toEqual(expected);
    expect(info.warnings).toHaveLength(warnings);
  });

  const stageText = (stageArg: string): string =>
    lines(
      'ARG TOOLS=acme/tools:1',
      'FROM alpine',
      stageArg,
      'COPY --from=$TOOLS /bin/tool /bin/tool',
      'RUN --mount=type=bind,from=${TOOLS},target=/t true',
    );

  test.each<[string, Record<string, string>, string]>([
    ['ARG TOOLS', {}, 'acme/tools:1'],
    ['ARG TOOLS', { TOOLS: 'acme/tools:2' }, 'acme/tools:2'],
    ['ARG TOOLS=acme/other:3', {}, 'acme/other:3'],
    ['ARG TOOLS=acme/other:3', { TOOLS: 'acme/tools:2' }, 'acme/tools:2'],
    ['ENV TOOLS=acme/env:4', {}, 'acme/env:4'],
  ])('in a stage, %s with build-args %j', (stageArg, buildArgs, expected) => {
    const info = analyseDockerfile(stageText(stageArg), FILE, buildArgs);
    expect(uses(info)).toEqual([
      'from alpine @2',
      `copy-from ${expected} @4`,
      `mount-from ${expected} @5`,
    ]);
    expect(info.warnings).toEqual([]);
  });

  test('a global ARG is not in scope inside a stage until re-declared', () => {
    const info = analyseDockerfile(stageText('RUN true'), FILE);
    expect(uses(info)).toEqual(['from alpine @2']);
    expect(info.warnings.map((warning) => warning.line)).toEqual([4, 5]);
    expect(info.warnings[0]?.message).toContain(
      'COPY --from=$TOOLS cannot be resolved: TOOLS is not declared by an ARG in this stage',
    );
    expect(info.warnings[1]?.message).toContain('RUN --mount from=${TOOLS} cannot be resolved');
  });

  test('a stage inherits the ENV of the stage it is built FROM, not its ARGs', () => {
    const info = analyseDockerfile(
      lines(
        'FROM alpine AS base',
        'ENV TOOLS=acme/tools:5',
        'ARG OTHER=acme/other:1',
        'FROM base',
        'COPY --from=$TOOLS / /',
        'COPY --from=$OTHER / /',
      ),
      FILE,
    );
    expect(uses(info)).toEqual(['from alpine @1', 'copy-from acme/tools:5 @5']);
    expect(info.warnings.map((warning) => warning.line)).toEqual([6]);
  });

  test('a stage name given through a variable is still a stage', () => {
    const info = analyseDockerfile(
      lines(
        'FROM alpine AS build',
        'FROM alpine',
        'ARG FROM_STAGE=build',
        'COPY --from=$FROM_STAGE / /',
      ),
      FILE,
    );
    expect(uses(info)).toEqual(['from alpine @1', 'from alpine @2']);
  });
});

describe('analyseDockerfile: warnings', () => {
  test.each<[string, string, Record<string, string>, number, string[]]>([
    [
      'ARG without default',
      lines('ARG BASE', 'FROM $BASE'),
      {},
      2,
      ['FROM $BASE cannot be resolved', 'ARG BASE has no default', 'build-args.BASE'],
    ],
    [
      'no ARG at all',
      lines('FROM alpine AS a', 'FROM ${IMAGE}:1'),
      {},
      2,
      [
        'FROM ${IMAGE}:1 cannot be resolved',
        'IMAGE is not declared by an ARG before the first FROM',
      ],
    ],
    [
      'a build-arg without its ARG does not reach FROM',
      lines('FROM $BASE'),
      { BASE: 'alpine' },
      1,
      ['BASE is not declared by an ARG before the first FROM'],
    ],
    [
      'an ARG declared only inside a stage does not reach a later FROM',
      lines('FROM alpine', 'ARG NEXT=debian', 'FROM $NEXT'),
      {},
      3,
      ['FROM $NEXT cannot be resolved', 'NEXT is not declared by an ARG before the first FROM'],
    ],
    [
      'a platform arg in the image',
      lines('FROM acme/base-${TARGETARCH}'),
      {},
      1,
      ['TARGETARCH is set per target platform', 'declare depends-on'],
    ],
    [
      'an ARG whose default uses an unknown value',
      lines('ARG REG', 'ARG BASE=${REG}/base', 'FROM $BASE'),
      {},
      3,
      ['BASE is set from REG, which cannot be resolved'],
    ],
    ['${V:?} on an empty value', lines('ARG V=', 'FROM ${V:?required}'), {}, 2, ['V is empty']],
  ])('%s', (_title, text, buildArgs, line, parts) => {
    const info = analyseDockerfile(text, FILE, buildArgs);
    expect(info.warnings).toHaveLength(1);
    expect(info.warnings[0]?.line).toBe(line);
    for (const part of parts) expect(info.warnings[0]?.message).toContain(part);
    expect(info.uses.filter((use) => use.line === line)).toEqual([]);
  });

  test('an unresolved FROM keeps its stage, with the base as written', () => {
    const info = analyseDockerfile(lines('ARG BASE', 'FROM ${BASE} AS app'), FILE);
    expect(info.stages).toEqual([{ name: 'app', base: '${BASE}', line: 2 }]);
    expect(info.uses).toEqual([]);
  });

  test('a platform arg given as a build-arg resolves', () => {
    const info = analyseDockerfile(lines('FROM acme/base-${TARGETARCH}'), FILE, {
      TARGETARCH: 'arm64',
    });
    expect(uses(info)).toEqual(['from acme/base-arm64 @1']);
    expect(info.warnings).toEqual([]);
  });
});

describe('analyseDockerfile: errors', () => {
  test.each<[string, string, string]>([
    ['no FROM at all', lines('# just a comment', 'ARG A=1'), `${FILE}: no FROM instruction`],
    ['an empty file', '', `${FILE}: no FROM instruction`],
    ['only FROM inside a heredoc', lines('RUN <<EOF', 'FROM alpine', 'EOF'), `${FILE}: no FROM`],
    [
      'an instruction before FROM',
      lines('ARG A=1', 'RUN true', 'FROM alpine'),
      `${FILE}:2: RUN before the first FROM`,
    ],
    ['FROM without image', lines('FROM --platform=linux/amd64'), `${FILE}:1: FROM needs an image`],
    [
      'FROM with extra words',
      lines('FROM alpine debian'),
      `${FILE}:1: FROM takes an image and optionally AS <name>`,
    ],
    [
      'FROM x NOT y',
      lines('FROM alpine NOT y'),
      `${FILE}:1: FROM expects AS before the stage name`,
    ],
    [
      'a bad stage name',
      lines('FROM alpine AS 1st'),
      `${FILE}:1: stage name "1st" must start with a letter`,
    ],
    [
      'an uppercase image',
      lines('FROM alpine', '', 'FROM Ubuntu:22.04'),
      `${FILE}:3: FROM Ubuntu:22.04: invalid image reference "Ubuntu:22.04": repository path "Ubuntu" must be lowercase`,
    ],
    [
      'a tag made invalid by a build-arg default',
      lines('ARG TAG=feature/x', 'FROM alpine:${TAG}'),
      `${FILE}:2: FROM alpine:\${TAG}: invalid image reference "alpine:feature/x"`,
    ],
    [
      'an invalid COPY --from',
      lines('FROM alpine', 'COPY --from=acme//tools / /'),
      `${FILE}:2: COPY --from=acme//tools: invalid image reference "acme//tools"`,
    ],
    [
      'an invalid mount from',
      lines('FROM alpine', 'RUN --mount=type=bind,from=acme/tools:,target=/t true'),
      `${FILE}:2: RUN --mount from=acme/tools:: invalid image reference "acme/tools:"`,
    ],
    ['an unclosed ${', lines('FROM ${BASE'), `${FILE}:1: \${BASE: missing "}"`],
    ['a bad substitution', lines('FROM ${}'), `${FILE}:1: \${}: bad substitution`],
  ])('%s', (_title, text, message) => {
    const error = caught(() => analyseDockerfile(text, FILE));
    expect(error.message).toContain(message);
    expect(error.position?.file).toBe(FILE);
  });

  test('the position carries file and line', () => {
    const error = caught(() => analyseDockerfile(lines('FROM alpine', 'FROM a//b'), FILE));
    expect(error.position).toEqual({ file: FILE, line: 2 });
  });
});

describe('pinReferences', () => {
  const pinned = (use: ImageUse): string =>
    `${use.reference.registry}/${use.reference.path}@${DIGEST}`;

  const complex = [
    '# syntax=docker/dockerfile:1.7',
    '# A comment, then a global ARG.',
    'ARG BASE=ghcr.io/acme/base:1',
    'FROM --platform=$BUILDPLATFORM ${BASE} AS build',
    'RUN <<EOF',
    'FROM evil',
    'EOF',
    'COPY --from=acme/tools:1 \\',
    '     /bin/tool /bin/tool',
    'RUN --mount=type=cache,target=/root/.cache \\',
    '    --mount=type=bind,from=ghcr.io/acme/src:2,target=/src  make',
    'COPY <<-CONF /etc/app.conf',
    '\tCOPY --from=evil2 / /',
    '\tCONF',
    'FROM   scratch   AS   final',
    'COPY --from=build /out /out',
    '',
  ].join('\n');

  test('text is unchanged when replace returns undefined', () => {
    const seen: string[] = [];
    const result = pinReferences(complex, FILE, {}, (use) => {
      seen.push(`${use.kind} ${use.text}`);
      return undefined;
    });
    expect(result).toBe(complex);
    expect(seen).toEqual([
      'from ghcr.io/acme/base:1',
      'copy-from acme/tools:1',
      'mount-from ghcr.io/acme/src:2',
    ]);
  });

  test('every external reference pinned, everything else byte for byte', () => {
    expect(pinReferences(complex, FILE, {}, pinned)).toBe(
      [
        '# syntax=docker/dockerfile:1.7',
        '# A comment, then a global ARG.',
        'ARG BASE=ghcr.io/acme/base:1',
        `FROM --platform=$BUILDPLATFORM ghcr.io/acme/base@${DIGEST} AS build`,
        'RUN <<EOF',
        'FROM evil',
        'EOF',
        `COPY --from=docker.io/acme/tools@${DIGEST} \\`,
        '     /bin/tool /bin/tool',
        'RUN --mount=type=cache,target=/root/.cache \\',
        `    --mount=type=bind,from=ghcr.io/acme/src@${DIGEST},target=/src  make`,
        'COPY <<-CONF /etc/app.conf',
        '\tCOPY --from=evil2 / /',
        '\tCONF',
        'FROM   scratch   AS   final',
        'COPY --from=build /out /out',
        '',
      ].join('\n'),
    );
  });

  test('only the references replace picks are rewritten', () => {
    const result = pinReferences(complex, FILE, {}, (use) =>
      use.kind === 'copy-from' ? `acme/tools@${DIGEST}` : undefined,
    );
    expect(result).toBe(complex.replace('--from=acme/tools:1', `--from=acme/tools@${DIGEST}`));
  });

  test.each<[string, string, string]>([
    [
      'FROM with --platform and AS keeps both',
      lines('FROM --platform=linux/arm64 ghcr.io/acme/base:1 AS build', 'RUN true'),
      lines(`FROM --platform=linux/arm64 ghcr.io/acme/base@${DIGEST} AS build`, 'RUN true'),
    ],
    [
      'an image token split by a continuation is replaced whole',
      lines('FROM ghcr.io/acme/\\', 'base:1 \\', '  AS app'),
      lines(`FROM ghcr.io/acme/base@${DIGEST} \\`, '  AS app'),
    ],
    [
      'a quoted mount field is rewritten as from=<pin>',
      lines('FROM scratch', 'RUN --mount=type=bind,"from=ghcr.io/acme/q:1",target=/q true'),
      lines('FROM scratch', `RUN --mount=type=bind,from=ghcr.io/acme/q@${DIGEST},target=/q true`),
    ],
    [
      'a mount from= as last field',
      lines('FROM scratch', 'RUN --mount=type=bind,target=/q,from=ghcr.io/acme/q true'),
      lines('FROM scratch', `RUN --mount=type=bind,target=/q,from=ghcr.io/acme/q@${DIGEST} true`),
    ],
    [
      'CRLF line endings',
      'FROM ghcr.io/acme/base:1\r\nCOPY --from=ghcr.io/acme/t:1 a b\r\n',
      `FROM ghcr.io/acme/base@${DIGEST}\r\nCOPY --from=ghcr.io/acme/t@${DIGEST} a b\r\n`,
    ],
    [
      'backtick escape',
      '# escape=`\nFROM ghcr.io/acme/`\nbase:1 AS a\n',
      `# escape=\`\nFROM ghcr.io/acme/base@${DIGEST} AS a\n`,
    ],
  ])('%s', (_title, text, expected) => {
    expect(pinReferences(text, FILE, {}, pinned)).toBe(expected);
  });

  test('a token written with variables is replaced whole', () => {
    const text = lines(
      'ARG REG=ghcr.io/acme',
      'ARG TAG=1',
      'FROM ${REG}/base:$TAG AS b',
      'ARG TAG',
      'COPY --from=${REG:-x}/t:$TAG / /',
    );
    expect(pinReferences(text, FILE, { REG: 'localhost:5000' }, pinned)).toBe(
      lines(
        'ARG REG=ghcr.io/acme',
        'ARG TAG=1',
        `FROM localhost:5000/base@${DIGEST} AS b`,
        'ARG TAG',
        // REG is not declared in the stage, so ${REG:-x} falls back to x.
        `COPY --from=docker.io/x/t@${DIGEST} / /`,
      ),
    );
  });

  test('a pinned Dockerfile reads back with the pins at the same lines', () => {
    const info = analyseDockerfile(pinReferences(complex, FILE, {}, pinned), FILE);
    expect(uses(info)).toEqual([
      `from ghcr.io/acme/base@${DIGEST} @4`,
      `copy-from docker.io/acme/tools@${DIGEST} @8`,
      `mount-from ghcr.io/acme/src@${DIGEST} @10`,
    ]);
  });

  test('an invalid replacement is refused with the line', () => {
    const error = caught(() => pinReferences(complex, FILE, {}, () => 'Not A Reference'));
    expect(error.position).toEqual({ file: FILE, line: 4 });
    expect(error.message).toContain('cannot pin ghcr.io/acme/base:1');
  });
});

describe('contextSources', () => {
  // undefined: the build may read the whole context.
  test.each<[string, string, Record<string, string>, string[] | undefined]>([
    ['shell form', lines('FROM alpine', 'COPY app.conf /etc/app.conf'), {}, ['app.conf']],
    [
      'multiple sources, the destination dropped',
      lines('FROM alpine', 'COPY src/a.go src/b.go /app/'),
      {},
      ['src/a.go', 'src/b.go'],
    ],
    [
      'JSON form keeps blanks inside a source',
      lines('FROM alpine', 'COPY ["a b", "c", "/dest/"]'),
      {},
      ['a b', 'c'],
    ],
    [
      'JSON form after flags',
      lines('FROM alpine', 'COPY --chown=1:1 ["web/static", "/srv/"]'),
      {},
      ['web/static'],
    ],
    [
      'flags are skipped: --chown, --link, --chmod, --parents, --exclude',
      lines(
        'FROM alpine',
        'COPY --chown=app:app --link conf /etc/conf',
        'COPY --chmod=755 --parents --exclude=*.md docs/ /docs/',
      ),
      {},
      ['conf', 'docs'],
    ],
    [
      'a quoted flag value with a blank is still one flag',
      lines('FROM alpine', 'COPY --chown="app user" data /data'),
      {},
      ['data'],
    ],
    [
      'a bare -- ends the flags',
      lines('FROM alpine', 'COPY --link -- --odd-name /x/'),
      {},
      ['--odd-name'],
    ],
    [
      'COPY --from a stage or an image reads no context',
      lines(
        'FROM golang:1.22 AS build',
        'FROM alpine',
        'COPY --from=build /out/app /app',
        'COPY --link --from=acme/tools:1 /bin/tool /bin/tool',
        'COPY etc/ /etc/app/',
      ),
      {},
      ['etc'],
    ],
    [
      'heredoc sources read nothing, their bodies are no arguments',
      lines(
        'FROM alpine',
        'COPY <<EOF /etc/motd',
        'hello from body.txt',
        'EOF',
        'COPY <<a <<-"b" /dest/',
        'in-a body',
        'a',
        '\tin-b body',
        '\tb',
        'ADD <<EOF /etc/x',
        'x',
        'EOF',
        'COPY real.txt /real.txt',
      ),
      {},
      ['real.txt'],
    ],
    [
      'ADD of URLs and git repositories reads nothing; a local archive is read',
      lines(
        'FROM alpine',
        'ADD https://example.com/tool.tar.gz /opt/',
        'ADD http://example.com/file /file',
        'ADD git@github.com:acme/repo.git /repo',
        'ADD https://github.com/acme/repo.git#v1.2 /repo2',
        'ADD --keep-git-dir git://example.com/r.git /repo3',
        'ADD vendor.tar.gz /vendor/',
      ),
      {},
      ['vendor.tar.gz'],
    ],
    [
      // BuildKit takes a name without scheme or user@host: as a path in the context.
      'ADD of a bare name ending in .git reads the context',
      lines('FROM alpine', 'ADD mirror.git /srv/mirror.git'),
      {},
      ['mirror.git'],
    ],
    ['COPY . . reads the whole context', lines('FROM alpine', 'COPY . .'), {}, undefined],
    [
      './ alone reads the whole context, whatever else is read',
      lines('FROM alpine', 'COPY conf /conf', 'COPY ./ /src/'),
      {},
      undefined,
    ],
    ['./a/ reads a', lines('FROM alpine', 'COPY ./a/ /a/'), {}, ['a']],
    ['/abs/file reads abs/file', lines('FROM alpine', 'COPY /abs/file /x'), {}, ['abs/file']],
    [
      'empty and . segments go, dir/.. folds',
      lines('FROM alpine', 'COPY a//b/./c lib/../bin /x/'),
      {},
      ['a/b/c', 'bin'],
    ],
    ['globs are kept', lines('FROM alpine', 'COPY src/*.go go.* /src/'), {}, ['src/*.go', 'go.*']],
    ['.. escaping the context', lines('FROM alpine', 'COPY ../shared /shared'), {}, undefined],
    [
      '.. escaping after a folded segment',
      lines('FROM alpine', 'COPY a/../../b /b'),
      {},
      undefined,
    ],
    [
      'a variable with an ARG default',
      lines('FROM alpine', 'ARG DIR=web', 'COPY ${DIR}/x $DIR/y /x/'),
      {},
      ['web/x', 'web/y'],
    ],
    [
      'a build-arg overrides the default',
      lines('FROM alpine', 'ARG DIR=web', 'COPY ${DIR}/x /x'),
      { DIR: 'api' },
      ['api/x'],
    ],
    [
      'a stage ENV and a default word',
      lines('FROM alpine', 'ENV APP=svc', 'COPY ["${APP}/bin", "${OTHER:-etc}", "/x/"]'),
      {},
      ['svc/bin', 'etc'],
    ],
    [
      'an unresolved variable',
      lines('FROM alpine', 'COPY conf /conf', 'COPY ${DIR}/x /x'),
      {},
      undefined,
    ],
    [
      'a global ARG not declared again in the stage is unresolved',
      lines('ARG DIR=web', 'FROM alpine', 'COPY ${DIR}/x /x'),
      {},
      undefined,
    ],
    [
      'a bad substitution reads the whole context',
      lines('FROM alpine', 'COPY ${DIR /x'),
      {},
      undefined,
    ],
    [
      'continuation lines and comment lines inside them',
      lines('FROM alpine', 'COPY a \\', '# a comment', '  b \\', '  /dest/'),
      {},
      ['a', 'b'],
    ],
    [
      'a Windows Dockerfile separates with backslashes',
      lines(
        '# escape=`',
        'FROM mcr.microsoft.com/windows/nanoserver:ltsc2022',
        'COPY src\\app C:\\app',
      ),
      {},
      ['src/app'],
    ],
    [
      'RUN --mount=type=bind,source= reads the source',
      lines('FROM alpine', 'RUN --mount=type=bind,source=scripts,target=/s sh /s/build.sh'),
      {},
      ['scripts'],
    ],
    [
      'bind is the default mount type, src= the short key',
      lines('FROM alpine', 'RUN --mount=target=/s,src=./tools/ /s/run'),
      {},
      ['tools'],
    ],
    [
      'a mount source from a variable',
      lines(
        'FROM alpine',
        'ARG TOOLS=tools',
        'RUN --mount=type=bind,"source=${TOOLS}",target=/t true',
      ),
      {},
      ['tools'],
    ],
    [
      'a bind mount without source= binds the whole context',
      lines('FROM alpine', 'RUN --mount=type=bind,target=/src make -C /src'),
      {},
      undefined,
    ],
    [
      'a bind mount of an unresolved type might bind the context',
      lines('FROM alpine', 'RUN --mount=type=$KIND,target=/src make -C /src'),
      {},
      undefined,
    ],
    [
      'a bind mount from= a stage or an image, cache, secret, ssh and tmpfs mounts read nothing',
      lines(
        'FROM golang:1.22 AS build',
        'FROM alpine',
        'RUN --mount=type=bind,from=build,source=/out,target=/out \\',
        '    --mount=type=bind,from=acme/src:2,target=/src \\',
        '    --mount=type=cache,target=/root/.cache,source=cache \\',
        '    --mount=type=secret,id=token --mount=type=ssh \\',
        '    --mount=type=tmpfs,target=/tmp make',
        'COPY Makefile /',
      ),
      {},
      ['Makefile'],
    ],
    [
      'no context read at all',
      lines('FROM alpine', 'RUN apk add curl', 'FROM scratch', 'COPY --from=0 /usr/bin/curl /'),
      {},
      [],
    ],
    [
      'every stage counts, each path once',
      lines(
        'FROM golang:1.22 AS build',
        'COPY go.mod go.sum ./',
        'COPY cmd/ ./cmd/',
        'FROM alpine',
        'COPY --from=build /out /out',
        'COPY go.mod /go.mod',
      ),
      {},
      ['go.mod', 'go.sum', 'cmd'],
    ],
  ])('%s', (_title, text, buildArgs, expected) => {
    const info = analyseDockerfile(text, FILE, buildArgs);
    if (expected === undefined) expect(info.contextSources).toBeUndefined();
    else expect(info.contextSources).toEqual(expected);
  });

  test('an unresolved source adds no warning of its own', () => {
    const info = analyseDockerfile(lines('FROM alpine', 'COPY ${DIR}/x /x'), FILE);
    expect(info.contextSources).toBeUndefined();
    expect(info.warnings).toEqual([]);
  });

  test('pinning is unchanged by the context reads', () => {
    const text = lines(
      'FROM ghcr.io/acme/base:1',
      'COPY --from=acme/tools:1 /bin/tool /bin/tool',
      'RUN --mount=type=bind,source=scripts,from=ghcr.io/acme/src:2,target=/s true',
      'COPY app /app',
    );
    const info = analyseDockerfile(text, FILE);
    expect(info.contextSources).toEqual(['app']);
    expect(uses(info)).toEqual([
      'from ghcr.io/acme/base:1 @1',
      'copy-from acme/tools:1 @2',
      'mount-from ghcr.io/acme/src:2 @3',
    ]);
    expect(pinReferences(text, FILE, {}, (use) => `${use.reference.path}@${DIGEST}`)).toBe(
      lines(
        `FROM acme/base@${DIGEST}`,
        `COPY --from=acme/tools@${DIGEST} /bin/tool /bin/tool`,
        `RUN --mount=type=bind,source=scripts,from=acme/src@${DIGEST},target=/s true`,
        'COPY app /app',
      ),
    );
  });
});

describe("analyseDockerfile: BuildKit's reading of the text", () => {
  test.each<[string, string, string[]]>([
    [
      'an escaped escape at the end of a line continues nothing',
      lines('FROM alpine', 'RUN echo \\\\', 'COPY --from=acme/tools:1 / /'),
      ['from alpine @1', 'copy-from acme/tools:1 @3'],
    ],
    [
      'a heredoc after a file descriptor is a body',
      lines('FROM alpine', 'RUN cat 3<<EOF', 'FROM evil', 'EOF', 'FROM debian'),
      ['from alpine @1', 'from debian @5'],
    ],
    [
      'a heredoc under ONBUILD is a body',
      lines('FROM alpine', 'ONBUILD RUN <<EOF', 'FROM evil', 'EOF', 'FROM debian'),
      ['from alpine @1', 'from debian @5'],
    ],
    [
      'no heredoc on CMD, nor in JSON form',
      lines('FROM alpine', 'CMD cat <<EOF', 'RUN ["cat", "<<EOF"]', 'FROM debian'),
      ['from alpine @1', 'from debian @4'],
    ],
    [
      'an unknown directive before escape leaves the backslash escape',
      lines('# foo=bar', '# escape=`', 'FROM alpine', 'COPY --from=acme/tools:1 \\', '  / /'),
      ['from alpine @3', 'copy-from acme/tools:1 @4'],
    ],
  ])('%s', (_title, text, expected) => {
    const info = analyseDockerfile(text, FILE);
    expect(uses(info)).toEqual(expected);
    expect(info.warnings).toEqual([]);
  });

  test.each<[string, string, string]>([
    [
      'an unterminated heredoc',
      lines('FROM alpine', 'RUN <<EOF', 'echo'),
      `${FILE}:2: unterminated heredoc`,
    ],
    [
      'an invalid escape directive',
      lines('# escape=x', 'FROM alpine'),
      `${FILE}:1: invalid escape token`,
    ],
    [
      'a second escape directive',
      lines('# escape=`', '# escape=\\', 'FROM alpine'),
      `${FILE}:2: only one escape parser directive`,
    ],
    [
      'ENV without a value',
      lines('FROM alpine', 'ENV A'),
      `${FILE}:2: ENV must have two arguments`,
    ],
    [
      // BuildKit ends lines at \n only: this is one FROM of three words.
      'lone \\r line breaks',
      'FROM alpine\rRUN true\r',
      `${FILE}:1: FROM expects AS before the stage name, not "RUN"`,
    ],
  ])('refused: %s', (_title, text, message) => {
    const error = caught(() => analyseDockerfile(text, FILE));
    expect(error.message).toContain(message);
    expect(error.position?.file).toBe(FILE);
  });

  test('pins a token split by a continuation with a comment line inside', () => {
    const text = lines('FROM ghcr.io/acme/\\', '# between', 'base:1 AS a', 'RUN true');
    const pinned = pinReferences(text, FILE, {}, (use) => `${use.reference.path}@${DIGEST}`);
    expect(pinned).toBe(lines(`FROM acme/base@${DIGEST} AS a`, 'RUN true'));
  });
});
