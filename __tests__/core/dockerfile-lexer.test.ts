import { Add, Arg, Copy, DockerfileParser, Env, From, Run } from 'dockerfile-ast';
import { generateRepo } from '../../bench/generate.js';
import {
  type Instruction,
  LexError,
  type LexedDockerfile,
  lexDockerfile,
  type Range,
} from '../../src/core/dockerfile-lexer.js';

function lines(...text: string[]): string {
  return `${text.join('\n')}\n`;
}

/** Instructions as `KEYWORD first-last` (1-based lines, heredoc bodies included). */
function ours(text: string): string[] {
  return lexDockerfile(text).instructions.map((i) => `${i.keyword} ${i.line}-${i.endLine}`);
}

function theirs(text: string): string[] {
  return DockerfileParser.parse(text)
    .getInstructions()
    .map((i) => `${i.getKeyword()} ${i.getRange().start.line + 1}-${i.getRange().end.line + 1}`);
}

function only(text: string): Instruction {
  const { instructions } = lexDockerfile(text);
  expect(instructions).toHaveLength(1);
  return instructions[0]!;
}

function slice(instruction: Instruction, range: Range | undefined): string | undefined {
  return range && instruction.text.slice(range.start, range.end);
}

function lexError(text: string): LexError {
  try {
    lexDockerfile(text);
  } catch (error) {
    if (error instanceof LexError) return error;
    throw error;
  }
  throw new Error('expected a LexError');
}

// ---------------------------------------------------------------------------------------
// Differential test against dockerfile-ast, on Dockerfiles where it reads what BuildKit
// reads: the instructions, their lines, the escape character, and the source text of FROM's
// image, of flag values and of ARG/ENV values.

/** What both parsers read, with values as source text (offsets mapped back). */
interface View {
  escape: string;
  instructions: string[];
}

function lexerView(text: string): View {
  const lexed: LexedDockerfile = lexDockerfile(text);
  const source = (instruction: Instruction, range: Range): string => {
    const { start, end } = instruction.span(range);
    return text.slice(start, end);
  };
  return {
    escape: lexed.escape,
    instructions: lexed.instructions.map((i) => {
      const parts = [`${i.keyword} ${i.line}-${i.endLine}`];
      if (['FROM', 'COPY', 'ADD', 'RUN'].includes(i.keyword)) {
        for (const flag of i.flags()) {
          parts.push(`--${flag.name}${flag.value ? `=${source(i, flag.value)}` : ''}`);
        }
      }
      if (i.keyword === 'FROM' && i.words()[0]) parts.push(`image ${source(i, i.words()[0]!)}`);
      if (i.keyword === 'ARG' || i.keyword === 'ENV') {
        for (const property of i.properties()) {
          const value = property.value && source(i, property.value);
          parts.push(value === undefined ? property.name : `${property.name}=${value}`);
        }
      }
      return parts.join(' ');
    }),
  };
}

function libraryView(text: string): View {
  const dockerfile = DockerfileParser.parse(text);
  // Line starts as the library counts lines (\r\n, \r, \n), to map its positions to offsets.
  const starts = [0];
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '\r' && text[i + 1] === '\n') i++;
    if (text[i] === '\r' || text[i] === '\n') starts.push(i + 1);
  }
  const source = (range: { start: Position; end: Position }): string =>
    text.slice(
      starts[range.start.line]! + range.start.character,
      starts[range.end.line]! + range.end.character,
    );
  return {
    escape: dockerfile.getEscapeCharacter(),
    instructions: dockerfile.getInstructions().map((i) => {
      const range = i.getRange();
      const parts = [`${i.getKeyword()} ${range.start.line + 1}-${range.end.line + 1}`];
      if (i instanceof From || i instanceof Copy || i instanceof Add || i instanceof Run) {
        for (const flag of i.getFlags()) {
          const value = flag.getValueRange();
          parts.push(`--${flag.getName()}${value ? `=${source(value)}` : ''}`);
        }
      }
      if (i instanceof From) {
        const image = i.getImageRange();
        if (image) parts.push(`image ${source(image)}`);
      }
      if (i instanceof Arg || i instanceof Env) {
        for (const property of i.getProperties()) {
          const value = property.getValueRange();
          parts.push(value ? `${property.getName()}=${source(value)}` : property.getName());
        }
      }
      return parts.join(' ');
    }),
  };
}

interface Position {
  line: number;
  character: number;
}

// Dockerfiles of __tests__/core/dockerfile.test.ts (a representative set).
const analyserCorpus: Array<[string, string]> = [
  [
    'multi-stage',
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
  ],
  ['lowercase keywords', lines('from alpine:3 as build', 'copy --from=acme/x /a /b')],
  [
    'mounts',
    lines(
      'FROM alpine AS base',
      'FROM alpine',
      'RUN --mount=type=cache,target=/x,from=base --mount=type=bind,source=/s,from=acme/src:2,target=/s \\',
      '    --mount=type=bind,from=ghcr.io/acme/data,target=/d make',
      'RUN --mount=type=bind,"from=acme/q:1",target=/q true',
    ),
  ],
  [
    'comments inside a continuation',
    lines(
      '# syntax=docker/dockerfile:1',
      '# FROM commented:1',
      'FROM \\',
      '# a comment inside the instruction',
      '  alpine:3 AS a',
      '   # COPY --from=commented:2 / /',
    ),
  ],
  [
    'continuations splitting the image token',
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
  ],
  [
    'heredocs',
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
  ],
  [
    'the escape directive, CRLF',
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
  ],
  [
    'platform flags',
    lines(
      'FROM --platform=$BUILDPLATFORM golang:1.22 AS build',
      'FROM --platform=${TARGETPLATFORM} alpine',
    ),
  ],
  [
    'ARG declarations',
    lines(
      'ARG REGISTRY=ghcr.io/acme',
      'ARG BASE_TAG=1',
      'ARG V',
      'ARG S=busybox',
      'FROM ${REGISTRY}/base:${BASE_TAG}',
      'FROM ${V:-${S}}',
      'FROM alpine${V-:3}',
      'RUN true',
    ),
  ],
  [
    'stage ARG and ENV',
    lines(
      'ARG TOOLS=acme/tools:1',
      'FROM alpine AS base',
      'ENV TOOLS=acme/tools:5',
      'ARG OTHER=acme/other:1',
      'FROM base',
      'ARG TOOLS',
      'COPY --from=$TOOLS /bin/tool /bin/tool',
      'RUN --mount=type=bind,from=${TOOLS},target=/t true',
    ),
  ],
  [
    'pinning corpus',
    [
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
    ].join('\n'),
  ],
  [
    'context sources',
    lines(
      'FROM alpine',
      'COPY --chown=1:1 ["web/static", "/srv/"]',
      'COPY --chown=app:app --link conf /etc/conf',
      'COPY --chmod=755 --parents --exclude=*.md docs/ /docs/',
      'COPY <<a <<-"b" /dest/',
      'in-a body',
      'a',
      '\tin-b body',
      '\tb',
      'ADD <<EOF /etc/x',
      'x',
      'EOF',
      'ADD https://example.com/tool.tar.gz /opt/',
      'ADD --keep-git-dir git://example.com/r.git /repo3',
      'COPY a \\',
      '# a comment',
      '  b \\',
      '  /dest/',
      'RUN --mount=target=/s,src=./tools/ /s/run',
    ),
  ],
  ['CRLF pins', 'FROM ghcr.io/acme/base:1\r\nCOPY --from=ghcr.io/acme/t:1 a b\r\n'],
  ['only comments', lines('# just a comment', 'ARG A=1')],
  ['empty', ''],
];

// Odd but valid syntax.
const oddCorpus: Array<[string, string]> = [
  ['no final newline', 'FROM alpine\nRUN true'],
  [
    'blank lines and indentation',
    lines('', '   ', '  FROM alpine', '\t\tRUN a', '', '  # c', 'RUN b'),
  ],
  ['mixed-case keywords', lines('FrOm alpine As Build', 'rUn make', 'CoPy --FROM=build /a /b')],
  ['directive with spaces and case', lines('  #  ESCAPE = ` ', 'FROM alpine `', '  AS b')],
  [
    'syntax and check directives',
    lines('# syntax=docker/dockerfile:1', '# check=skip=all', 'FROM a'),
  ],
  ['a directive after a comment is a comment', lines('# hello', '# escape=`', 'FROM a `', 'AS b')],
  ['a directive after a blank line is a comment', lines('', '# escape=`', 'FROM a `', 'AS b')],
  ['byte-order mark', '\uFEFF# escape=`\nFROM a `\n  AS b\n'],
  ['blank lines inside a continuation', lines('FROM a', 'RUN x \\', '', '   ', '  y', 'RUN z')],
  ['blanks after the escape', lines('FROM a', 'RUN x \\   ', '  y \\\t', '  z')],
  ['CRLF continuation', 'FROM a\r\nRUN x \\\r\n  y\r\nRUN z\r\n'],
  ['a comment ending with the escape', lines('FROM a', '# c \\', 'RUN b')],
  ['a backtick without the directive', lines('FROM a `', 'RUN b')],
  ['ONBUILD with a heredoc', lines('FROM a', 'ONBUILD RUN <<EOF', 'RUN x', 'EOF', 'RUN y')],
  ['no heredoc on CMD', lines('FROM a', 'CMD cat <<EOF', 'RUN x', 'EOF')],
  ['<<< is no heredoc', lines('FROM a', 'RUN cat <<<EOF', 'RUN b')],
  ['<< inside quotes is no heredoc', lines('FROM a', 'RUN echo "<<EOF"', 'RUN y')],
  ['cat<<EOF is no heredoc word', lines('FROM a', 'RUN cat<<EOF', 'RUN x')],
  ['JSON form has no heredoc', lines('FROM a', 'RUN ["cat", "<<EOF"]', 'RUN b')],
  ['single-quoted heredoc', lines('FROM a', "RUN <<'EOF'", 'RUN x', 'EOF', 'RUN y')],
  ['heredoc after a continuation', lines('FROM a', 'RUN <<EOF \\', '  bash', 'x', 'EOF', 'RUN y')],
  ['heredoc CRLF', 'FROM a\r\nRUN <<EOF\r\nx\r\nEOF\r\nRUN y\r\n'],
  ['unknown instructions', lines('FROM a', 'FOO bar', 'MAINTAINER me', 'RUN b')],
  [
    'flags with and without values',
    lines('FROM --platform=linux/arm64 a', 'COPY --link --chmod=644 x /y'),
  ],
  ['ENV forms', lines('FROM a', 'ENV A=1 B="two words"', 'ENV C x y z')],
  ['ARG forms', lines('ARG A', 'ARG B=', 'ARG C=1 D', 'FROM a')],
];

const generated = [...generateRepo(40, 40, 1).dockerfiles.values()];

describe('lexDockerfile reads what dockerfile-ast reads', () => {
  test.each([...analyserCorpus, ...oddCorpus])('%s', (_title, text) => {
    expect(lexerView(text)).toEqual(libraryView(text));
  });

  test('the generated Dockerfiles of bench/generate.ts', () => {
    expect(generated).toHaveLength(40);
    for (const text of generated) expect(lexerView(text)).toEqual(libraryView(text));
  });
});

// ---------------------------------------------------------------------------------------
// Where dockerfile-ast and BuildKit part: BuildKit's reading is expected, and the library's
// shown to differ.

describe('where dockerfile-ast is wrong', () => {
  test.each<[string, string, string[]]>([
    // BuildKit's scanner ends lines at \n only; a lone \r is a blank.
    ['a lone \\r is no line break', 'FROM a\rRUN b\r', ['FROM 1-1']],
    [
      // An escaped escape character at the end of a line continues nothing.
      'an escaped escape at the end of a line',
      lines('FROM a', 'RUN echo \\\\', 'RUN b'),
      ['FROM 1-1', 'RUN 2-2', 'RUN 3-3'],
    ],
    ['a continuation at the end of the file', 'FROM a\nRUN x \\\n', ['FROM 1-1', 'RUN 2-2']],
    [
      'comment lines after a continuation at the end',
      lines('FROM a', 'RUN x \\', '# c'),
      ['FROM 1-1', 'RUN 2-3'],
    ],
    [
      'an escape alone on the first line of an instruction',
      lines('FROM a', '\\', 'RUN b'),
      ['FROM 1-1', 'RUN 2-3'],
    ],
    [
      'a heredoc after a file descriptor',
      lines('FROM a', 'RUN cat 3<<EOF', 'x', 'EOF', 'RUN y'),
      ['FROM 1-1', 'RUN 2-4', 'RUN 5-5'],
    ],
    [
      'an empty heredoc name is no heredoc',
      lines('FROM a', 'RUN cat <<""', 'RUN b'),
      ['FROM 1-1', 'RUN 2-2', 'RUN 3-3'],
    ],
    [
      // BuildKit's shell lexer fails on the open quote and finds no heredoc.
      'a quote left open hides a heredoc',
      lines('FROM a', 'RUN echo "x <<EOF', 'RUN b'),
      ['FROM 1-1', 'RUN 2-2', 'RUN 3-3'],
    ],
    [
      // An unknown directive ends the directives: the escape line is a comment.
      'an unknown directive before escape',
      lines('# foo=bar', '# escape=`', 'FROM a `', '  AS b'),
      ['FROM 3-3', 'AS 4-4'],
    ],
  ])('%s', (_title, text, expected) => {
    expect(ours(text)).toEqual(expected);
    expect(theirs(text)).not.toEqual(expected);
  });

  test.each<[string, string, string]>([
    ['an invalid escape', lines('# escape=x', 'FROM a'), "1: invalid escape token 'x'"],
    [
      'a second escape directive',
      lines('# escape=`', '# escape=\\', 'FROM a'),
      '2: only one escape parser directive can be used',
    ],
    ['an unterminated heredoc', lines('FROM a', 'RUN <<EOF', 'x'), '2: unterminated heredoc'],
  ])('BuildKit refuses %s; the library reads on', (_title, text, message) => {
    const error = lexError(text);
    expect(`${error.line}: ${error.message}`).toContain(message);
    expect(DockerfileParser.parse(text).getInstructions().length).toBeGreaterThan(0);
  });

  test('heredoc bodies are not arguments', () => {
    const text = lines('FROM a', 'COPY <<EOF /x', 'hello world', 'EOF');
    const copy = lexDockerfile(text).instructions[1]!;
    expect(copy.words().map((word) => slice(copy, word))).toEqual(['<<EOF', '/x']);
    expect(copy.heredocs).toEqual([
      { name: 'EOF', chomp: false, start: text.indexOf('hello'), end: text.lastIndexOf('EOF') },
    ]);
    const library = DockerfileParser.parse(text).getInstructions()[1]!;
    expect(library.getArguments().map((a) => a.getValue())).toEqual([
      '<<EOF',
      '/x',
      'hello',
      'world',
      'EOF',
    ]);
  });

  test('blanks inside JSON strings are kept', () => {
    const text = lines('FROM a', 'COPY ["a b", "c d", "/x/"]');
    expect(lexDockerfile(text).instructions[1]!.json()).toEqual(['a b', 'c d', '/x/']);
    const library = DockerfileParser.parse(text).getInstructions()[1]!;
    expect(library.getArguments().map((a) => a.getValue())).toEqual([
      '["a',
      'b",',
      '"c',
      'd",',
      '"/x/"]',
    ]);
  });

  test('values keep their escapes and quotes for expansion', () => {
    const arg = only(lines('ARG A=a\\$b B="x y"'));
    expect(arg.properties().map((p) => `${p.name}=${slice(arg, p.value)}`)).toEqual([
      'A=a\\$b',
      'B="x y"',
    ]);
    const library = DockerfileParser.parse(lines('ARG A=a\\$b')).getInstructions()[0] as Arg;
    expect(library.getProperties()[0]!.getValue()).toBe('a$b');
  });

  test('a quoted flag value with a blank is one flag', () => {
    const text = lines('FROM a', 'COPY --chown="a b" x y');
    const copy = lexDockerfile(text).instructions[1]!;
    expect(copy.flags().map((f) => `${f.name}=${slice(copy, f.value)}`)).toEqual(['chown="a b"']);
    expect(copy.words().map((word) => slice(copy, word))).toEqual(['x', 'y']);
    const library = DockerfileParser.parse(text).getInstructions()[1] as Copy;
    expect(library.getFlags().map((f) => f.getValue())).toEqual(['"a']);
  });

  test('a bare -- ends the flags', () => {
    const text = lines('FROM a', 'COPY --link -- --odd /x/');
    const copy = lexDockerfile(text).instructions[1]!;
    expect(copy.flags().map((f) => f.name)).toEqual(['link']);
    expect(copy.words().map((word) => slice(copy, word))).toEqual(['--odd', '/x/']);
    const library = DockerfileParser.parse(text).getInstructions()[1] as Copy;
    expect(library.getFlags().map((f) => f.getName())).toEqual(['link', '', 'odd']);
  });
});

// ---------------------------------------------------------------------------------------
// The lexer itself.

describe('parser directives', () => {
  test('syntax, escape and check at the top, names lowercased', () => {
    const lexed = lexDockerfile(
      lines('# syntax=docker/dockerfile:1', '#ESCAPE = `', '# check=skip=all', 'FROM a'),
    );
    expect(lexed.escape).toBe('`');
    expect(lexed.directives).toEqual([
      { name: 'syntax', value: 'docker/dockerfile:1', line: 1 },
      { name: 'escape', value: '`', line: 2 },
      { name: 'check', value: 'skip=all', line: 3 },
    ]);
  });

  test.each<[string, string]>([
    ['after a blank line', lines('# syntax=x', '', '# escape=`', 'FROM a')],
    ['after a comment', lines('# a comment', '# escape=`', 'FROM a')],
    ['after an unknown directive', lines('# foo=bar', '# escape=`', 'FROM a')],
    ['after an instruction', lines('FROM a', '# escape=`')],
    ['without =', lines('# escape `', 'FROM a')],
  ])('a directive %s is a comment', (_title, text) => {
    const lexed = lexDockerfile(text);
    expect(lexed.escape).toBe('\\');
    expect(lexed.directives.map((d) => d.name)).not.toContain('escape');
  });

  test.each<[string, string, number, string]>([
    ['an invalid escape', lines('# escape=x', 'FROM a'), 1, "invalid escape token 'x'"],
    ['a repeated directive', lines('# syntax=a', '# SYNTAX=b', 'FROM a'), 2, 'only one syntax'],
  ])('%s is refused', (_title, text, line, message) => {
    const error = lexError(text);
    expect(error.line).toBe(line);
    expect(error.message).toContain(message);
  });
});

describe('lines, comments and continuations', () => {
  test('comments and blank lines are no instructions; keywords are uppercased', () => {
    expect(ours(lines('# c', '', 'from a', '   # indented', '\t', 'Run b'))).toEqual([
      'FROM 3-3',
      'RUN 6-6',
    ]);
    expect(ours(lines('# only', '', '# comments'))).toEqual([]);
  });

  test('continuation lines are joined, keeping their leading blanks', () => {
    const run = only(lines('RUN a \\', '  b \\  ', '\tc'));
    expect(run.text).toBe('RUN a   b \tc');
    expect(run.endLine).toBe(3);
  });

  test('comment and blank lines inside a continuation are dropped', () => {
    const run = only(lines('RUN a \\', '# comment \\', '', '  # indented comment', '  b'));
    expect(run.text).toBe('RUN a   b');
    expect([run.line, run.endLine]).toEqual([1, 5]);
  });

  test('CRLF line breaks', () => {
    const lexed = lexDockerfile('FROM a\r\nRUN x \\\r\n  y\r\n\r\nRUN z\r\n');
    expect(lexed.instructions.map((i) => `${i.text} ${i.line}-${i.endLine}`)).toEqual([
      'FROM a 1-1',
      'RUN x   y 2-3',
      'RUN z 5-5',
    ]);
  });

  test('the backtick escape continues lines; a backslash is then ordinary', () => {
    const from = lexDockerfile(lines('# escape=`', 'FROM a `', '  AS b')).instructions[0]!;
    expect(from.text).toBe('FROM a   AS b');
    expect(ours(lines('# escape=`', 'FROM a \\', 'RUN b'))).toEqual(['FROM 2-2', 'RUN 3-3']);
  });

  test('offsets map the logical line back to the source', () => {
    const text = lines('FROM ghcr.io/acme/\\', '# between', 'base:1 \\', '  AS app');
    const from = only(text);
    expect(from.text).toBe('FROM ghcr.io/acme/base:1   AS app');
    const image = from.words()[0]!;
    const span = from.span(image);
    expect(text.slice(span.start, span.end)).toBe('ghcr.io/acme/\\\n# between\nbase:1');
    expect(from.offset(image.end - 1)).toBe(text.indexOf(':1') + 1);
    const name = from.words()[2]!;
    expect(text.slice(from.span(name).start, from.span(name).end)).toBe('app');
  });

  test('a byte-order mark is dropped', () => {
    const from = only('\uFEFFFROM a\n');
    expect(from.keyword).toBe('FROM');
    expect(from.offset(0)).toBe(1);
  });
});

describe('heredocs', () => {
  test.each<[string, string, string[], Array<[string, boolean]>]>([
    [
      '<<EOF',
      lines('RUN <<EOF', 'FROM x', 'EOF', 'RUN y'),
      ['RUN 1-3', 'RUN 4-4'],
      [['EOF', false]],
    ],
    [
      '<<-EOF with tabs before the terminator',
      lines('RUN <<-EOF', '\tFROM x', '\t\tEOF', 'RUN y'),
      ['RUN 1-3', 'RUN 4-4'],
      [['EOF', true]],
    ],
    [
      'quoted names',
      lines('RUN <<"A" <<\'B\'', 'a', 'A', 'b', 'B', 'RUN y'),
      ['RUN 1-5', 'RUN 6-6'],
      [
        ['A', false],
        ['B', false],
      ],
    ],
    [
      'several on one line, read in order',
      lines('COPY <<a <<b /dest/', 'b', 'a', 'a', 'b', 'RUN y'),
      ['COPY 1-5', 'RUN 6-6'],
      [
        ['a', false],
        ['b', false],
      ],
    ],
    [
      'ADD, and a file descriptor',
      lines('ADD <<EOF /x', 'EOF', 'RUN cat 0<<IN', 'IN'),
      ['ADD 1-2', 'RUN 3-4'],
      [
        ['EOF', false],
        ['IN', false],
      ],
    ],
    [
      'a terminator with trailing blanks does not end the body',
      lines('RUN <<EOF', 'EOF ', 'EOF', 'RUN y'),
      ['RUN 1-3', 'RUN 4-4'],
      [['EOF', false]],
    ],
    ['CRLF', 'RUN <<EOF\r\nx\r\nEOF\r\nRUN y\r\n', ['RUN 1-3', 'RUN 4-4'], [['EOF', false]]],
    [
      'ONBUILD RUN',
      lines('ONBUILD RUN <<EOF', 'RUN x', 'EOF', 'RUN y'),
      ['ONBUILD 1-3', 'RUN 4-4'],
      [['EOF', false]],
    ],
    ['not on CMD', lines('CMD cat <<EOF', 'RUN x', 'EOF'), ['CMD 1-1', 'RUN 2-2', 'EOF 3-3'], []],
    ['not in JSON form', lines('RUN ["cat", "<<EOF"]', 'RUN b'), ['RUN 1-1', 'RUN 2-2'], []],
    ['not <<<', lines('RUN cat <<<EOF', 'RUN b'), ['RUN 1-1', 'RUN 2-2'], []],
    ['not quoted', lines("RUN echo '<<EOF'", 'RUN b'), ['RUN 1-1', 'RUN 2-2'], []],
  ])('%s', (_title, text, instructions, heredocs) => {
    expect(ours(text)).toEqual(instructions);
    const found = lexDockerfile(text).instructions.flatMap((i) => i.heredocs);
    expect(found.map((h) => [h.name, h.chomp])).toEqual(heredocs);
  });

  test('heredocs are read after the whole logical line, bodies as offsets', () => {
    const text = lines('RUN <<EOF \\', '  bash', 'echo hi', 'EOF', 'RUN y');
    const [run] = lexDockerfile(text).instructions;
    expect(run!.text).toBe('RUN <<EOF   bash');
    const body = run!.heredocs[0]!;
    expect(text.slice(body.start, body.end)).toBe('echo hi\n');
    expect(run!.endLine).toBe(4);
  });

  test('an unterminated heredoc is refused at its instruction', () => {
    const error = lexError(lines('FROM a', 'RUN <<EOF', 'echo', 'EO'));
    expect([error.line, error.message]).toEqual([2, 'unterminated heredoc']);
  });
});

describe('arguments', () => {
  test('flags: --name=value and --name, at the start only', () => {
    const run = only(
      lines('RUN --mount=type=cache,target=/x --network=none --privileged make --x=1'),
    );
    expect(run.flags().map((f) => [f.name, slice(run, f.value), slice(run, f.range)])).toEqual([
      ['mount', 'type=cache,target=/x', '--mount=type=cache,target=/x'],
      ['network', 'none', '--network=none'],
      ['privileged', undefined, '--privileged'],
    ]);
    expect(run.text.slice(run.restStart())).toBe('make --x=1');
  });

  test('flags: quotes keep blanks, a backslash escapes', () => {
    const copy = only(lines(`COPY --chown='a b' --x=c\\ d --y="e \\" f" src dst`));
    expect(copy.flags().map((f) => slice(copy, f.value))).toEqual(["'a b'", 'c\\ d', '"e \\" f"']);
    expect(copy.words().map((w) => slice(copy, w))).toEqual(['src', 'dst']);
  });

  test('no flags', () => {
    const run = only(lines('RUN -x --y'));
    expect(run.flags()).toEqual([]);
    expect(run.restStart()).toBe(4);
  });

  test('FROM words split at blanks, quotes not honoured (as BuildKit)', () => {
    const from = only(lines('FROM --platform=linux/amd64 "a b"\tAS  c'));
    expect(from.words().map((w) => slice(from, w))).toEqual(['"a', 'b"', 'AS', 'c']);
  });

  test.each<[string, string, string[] | undefined]>([
    ['an array of strings', 'COPY ["a b", "c"]', ['a b', 'c']],
    ['after flags', 'COPY --link [ "x" ,"/y/" ]', ['x', '/y/']],
    ['across a continuation', 'COPY ["a", \\\n  "b"]', ['a', 'b']],
    ['not JSON: shell form', 'COPY [a] b', undefined],
    ['not strings', 'CMD [1, 2]', undefined],
    ['not an array', 'CMD {"a": 1}', undefined],
  ])('JSON form: %s', (_title, text, expected) => {
    expect(only(`${text}\n`).json()).toEqual(expected);
  });

  test.each<[string, string[]]>([
    ['ARG A', ['A']],
    ['ARG A= B=1 C', ['A=', 'B=1', 'C']],
    ['ARG Q="a b" R=c\\ d', ['Q="a b"', 'R=c\\ d']],
    ['ENV A=1 B="two words"', ['A=1', 'B="two words"']],
    ['ENV C x  y z', ['C=x  y z']],
  ])('properties: %s', (text, expected) => {
    const instruction = only(`${text}\n`);
    expect(
      instruction
        .properties()
        .map((p) => (p.value === undefined ? p.name : `${p.name}=${slice(instruction, p.value)}`)),
    ).toEqual(expected);
  });

  test.each<[string, string]>([
    ['ENV', 'ENV requires at least one argument'],
    ['ENV A', 'ENV must have two arguments'],
    ['ENV A=1 B', `can't find = in "B"`],
  ])('properties: %s is refused', (text, message) => {
    const instruction = only(`${text}\n`);
    expect(() => instruction.properties()).toThrow(LexError);
    expect(() => instruction.properties()).toThrow(message);
  });
});
