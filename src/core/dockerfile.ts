// Reads a Dockerfile the way BuildKit does for the parts that matter to the image graph:
// which images each stage starts FROM, which images COPY --from and RUN --mount=from read,
// and which paths of the build context COPY, ADD and RUN --mount bind in. dockerfile-ast does the parsing (line continuations, the escape directive, comments,
// heredocs); variable expansion follows BuildKit's shell lexer
// (https://github.com/moby/buildkit/blob/master/frontend/dockerfile/shell/lex.go) because
// the library leaves expansion to its caller.

import {
  Add,
  Arg,
  Copy,
  DockerfileParser,
  Env,
  From,
  type Flag,
  type Property,
  Run,
} from 'dockerfile-ast';
import { DockerfileError, NameError } from './errors.js';
import { parseReference } from './reference.js';
import type { DockerfileInfo, DockerfileStage, ImageUse, ImageUseKind } from './types.js';

/** Set by the builder for each target platform, and in scope for FROM without any ARG. */
const PLATFORM_ARGS = [
  'BUILDPLATFORM',
  'BUILDOS',
  'BUILDARCH',
  'BUILDVARIANT',
  'TARGETPLATFORM',
  'TARGETOS',
  'TARGETARCH',
  'TARGETVARIANT',
];

// BuildKit: "name can't start with a number or contain symbols".
const STAGE_NAME = /^[a-z][a-z0-9._-]*$/;

/**
 * Finds the stages of a Dockerfile and every external image it uses. ARGs before the first
 * FROM, overridden by `buildArgs`, resolve variables in FROM; ARGs and ENVs of a stage
 * resolve COPY --from and RUN --mount from= in that stage. A reference that depends on a
 * value that cannot be known here becomes a warning instead of a use. The context paths
 * read come from COPY/ADD sources and RUN --mount bind sources of every stage. Throws
 * DockerfileError (with file and line) on a Dockerfile Docker would refuse.
 */
export function analyseDockerfile(
  text: string,
  file: string,
  buildArgs: Record<string, string> = {},
): DockerfileInfo {
  return scan(text, file, buildArgs).info;
}

/**
 * Rewrites the external references for which `replace` returns text (e.g. to pin a parent
 * built in this run as `repo@sha256:…`), leaving every other byte as it was: for FROM the
 * image token only, for COPY --from and --mount from= the value only. A token written with
 * variables (`FROM ${BASE}`) is replaced whole.
 */
export function pinReferences(
  text: string,
  file: string,
  buildArgs: Record<string, string>,
  replace: (use: ImageUse) => string | undefined,
): string {
  const edits: Array<{ start: number; end: number; text: string }> = [];
  for (const { use, start, end, prefix } of scan(text, file, buildArgs).spans) {
    const replacement = replace(use);
    if (replacement === undefined) continue;
    try {
      parseReference(replacement);
    } catch (error) {
      if (error instanceof NameError) {
        throw new DockerfileError(`cannot pin ${use.text}: ${error.message}`, {
          file,
          line: use.line,
        });
      }
      throw error;
    }
    edits.push({ start, end, text: prefix + replacement });
  }
  edits.sort((a, b) => b.start - a.start);
  let result = text;
  for (const edit of edits) {
    result = result.slice(0, edit.start) + edit.text + result.slice(edit.end);
  }
  return result;
}

// ---------------------------------------------------------------------------------------
// Scanning

interface UseSpan {
  use: ImageUse;
  /** Offsets in the original text of what a pin replaces. */
  start: number;
  end: number;
  /** Written before the replacement (a quoted mount field is rewritten as `from=…`). */
  prefix: string;
}

/** A value that exists at build time but cannot be known here. */
interface Unknown {
  reason: string;
  /** Whether build-args could give it a value. */
  settable: boolean;
}

/** A variable's state: a value, unknown, declared without a value (null). */
type Binding = string | Unknown | null;

interface Scope {
  /** undefined: not declared in this scope. */
  lookup(name: string): Binding | undefined;
  /** Why a variable this scope does not declare has no value. */
  undeclared(name: string): string;
}

type Fail = (message: string, line?: number) => never;

interface StageScope {
  args: Map<string, Binding>;
  env: Map<string, Binding>;
}

function scan(
  text: string,
  file: string,
  buildArgs: Record<string, string>,
): { info: DockerfileInfo; spans: UseSpan[] } {
  const dockerfile = DockerfileParser.parse(text);
  const escape = dockerfile.getEscapeCharacter();
  const source = new Source(text, escape);
  const fail: Fail = (message, line) => {
    throw new DockerfileError(message, line === undefined ? { file } : { file, line });
  };

  const instructions = dockerfile.getInstructions();
  if (!instructions.some((instruction) => instruction instanceof From)) {
    fail('no FROM instruction: a Dockerfile must start a stage with FROM <image>');
  }

  // COPY --from and --mount from= may name any stage of the file, even a later one
  // (BuildKit indexes every stage before it resolves them); FROM only an earlier one.
  const allStageNames = new Set<string>();
  for (const instruction of instructions) {
    if (instruction instanceof From) {
      const name = instruction.getArguments()[2]?.getValue().toLowerCase();
      if (name !== undefined) allStageNames.add(name);
    }
  }

  const global = new Map<string, Binding>();
  for (const name of PLATFORM_ARGS) {
    global.set(
      name,
      buildArgs[name] ?? { reason: `${name} is set per target platform`, settable: false },
    );
  }
  const globalScope: Scope = {
    lookup: (name) => global.get(name),
    undeclared: (name) => `${name} is not declared by an ARG before the first FROM`,
  };

  const stages: DockerfileStage[] = [];
  const stageEnvs: Array<Map<string, Binding>> = [];
  const uses: ImageUse[] = [];
  const spans: UseSpan[] = [];
  const warnings: DockerfileInfo['warnings'] = [];
  const context = new ContextReads();
  let stage: StageScope | undefined;

  const stageScope = (current: StageScope): Scope => ({
    lookup: (name) => (current.env.has(name) ? current.env.get(name) : current.args.get(name)),
    undeclared: (name) => `${name} is not declared by an ARG in this stage`,
  });

  const addUse = (
    kind: ImageUseKind,
    label: string,
    raw: Token,
    scope: Scope,
    line: number,
    span: { start: number; end: number; prefix: string },
  ): void => {
    const expanded = expandToken(raw, scope, escape, fail, line);
    if (expanded.unresolved.length > 0) {
      warnings.push({
        line,
        message: unresolvedMessage(`${label}${raw.text}`, expanded.unresolved),
      });
      return;
    }
    let reference;
    try {
      reference = parseReference(expanded.value);
    } catch (error) {
      if (error instanceof NameError) fail(`${label}${raw.text}: ${error.message}`, line);
      throw error;
    }
    const use: ImageUse = { kind, text: expanded.value, reference, line };
    uses.push(use);
    spans.push({ use, ...span });
  };

  for (const instruction of instructions) {
    const line = instruction.getRange().start.line + 1;
    const keyword = instruction.getKeyword();

    if (instruction instanceof From) {
      const args = instruction.getArguments();
      const imageRange = instruction.getImageRange();
      if (imageRange === null) fail('FROM needs an image', line);
      if (args.length !== 1 && args.length !== 3) {
        fail('FROM takes an image and optionally AS <name>', line);
      }
      if (args.length === 3 && args[1]?.getValue().toUpperCase() !== 'AS') {
        fail(`FROM expects AS before the stage name, not "${args[1]?.getValue()}"`, line);
      }
      const name = args[2]?.getValue().toLowerCase();
      if (name !== undefined && !STAGE_NAME.test(name)) {
        fail(`stage name "${name}" must start with a letter and hold only a-z 0-9 . _ -`, line);
      }

      const raw = source.token(imageRange);
      const expanded = expandToken(raw, globalScope, escape, fail, line);
      const resolved = expanded.unresolved.length === 0;
      const base = resolved ? expanded.value : raw.text;
      const parentIndex = resolved
        ? stages.findIndex((earlier) => earlier.name === base.toLowerCase())
        : -1;

      stages.push(name === undefined ? { base, line } : { name, base, line });
      const env = new Map<string, Binding>(stageEnvs[parentIndex] ?? []);
      stageEnvs.push(env);
      stage = { args: new Map(), env };

      if (parentIndex === -1 && base.toLowerCase() !== 'scratch') {
        addUse('from', 'FROM ', raw, globalScope, line, { ...source.span(imageRange), prefix: '' });
      }
      continue;
    }

    if (stage === undefined) {
      if (!(instruction instanceof Arg)) {
        fail(`${keyword} before the first FROM: only ARG may come before FROM`, line);
      }
      for (const property of instruction.getProperties()) {
        const name = property.getName();
        const value =
          buildArgs[name] ?? propertyValue(property, source, globalScope, escape, fail, line, true);
        // A bare `ARG TARGETARCH` only makes explicit what the builder already sets.
        if (value !== null || !PLATFORM_ARGS.includes(name)) global.set(name, value);
      }
      continue;
    }

    const scope = stageScope(stage);
    if (instruction instanceof Arg) {
      for (const property of instruction.getProperties()) {
        const name = property.getName();
        // A bare ARG in a stage takes the global value; build-args override any default.
        const value =
          buildArgs[name] ??
          (property.getValueRange() === null
            ? (global.get(name) ?? null)
            : propertyValue(property, source, scope, escape, fail, line, true));
        stage.args.set(name, value);
      }
    } else if (instruction instanceof Env) {
      for (const property of instruction.getProperties()) {
        stage.env.set(
          property.getName(),
          propertyValue(property, source, scope, escape, fail, line, false),
        );
      }
    } else if (instruction instanceof Copy || instruction instanceof Add) {
      if (!context.whole) {
        // Read from the text, not through getArguments(): no re-lexing, and heredoc bodies
        // (which dockerfile-ast counts as arguments) end the line.
        const words = copyArguments(
          source.line(source.offset(instruction.getInstructionRange().end)),
        );
        const add = instruction instanceof Add;
        if (!words.from) {
          for (const word of words.sources)
            context.read(copySource(word, words.json, add, scope, escape));
        }
      }
      // dockerfile-ast re-reads every argument to find flags: skip that for the many
      // instructions that cannot hold the flag we look for.
      if (!(instruction instanceof Copy) || !source.mentions(instruction.getRange(), 'from')) {
        continue;
      }
      for (const flag of flagsNamed(instruction.getFlags(), 'from')) {
        const range = flag.getValueRange();
        if (range === null) fail('COPY --from needs a value', line);
        const raw = source.token(range);
        if (isStageReference(raw, scope, escape, allStageNames)) continue;
        addUse('copy-from', 'COPY --from=', raw, scope, line, {
          ...source.span(range),
          prefix: '',
        });
      }
    } else if (instruction instanceof Run) {
      if (!source.mentions(instruction.getRange(), 'mount')) continue;
      for (const flag of flagsNamed(instruction.getFlags(), 'mount')) {
        const range = flag.getValueRange();
        if (range === null) continue;
        const fields = mountFields(source.token(range));
        for (const field of fields) {
          if (field.span === undefined) continue;
          if (isStageReference(field.value, scope, escape, allStageNames)) continue;
          addUse('mount-from', 'RUN --mount from=', field.value, scope, line, field.span);
        }
        if (!context.whole) context.read(mountSource(fields, scope, escape));
      }
    }
  }

  const info: DockerfileInfo = { stages, uses, warnings };
  const contextSources = context.list();
  if (contextSources !== undefined) info.contextSources = contextSources;
  return { info, spans };
}

function flagsNamed(flags: Flag[], name: string): Flag[] {
  return flags.filter((flag) => flag.getName() === name);
}

/** A stage name (case-insensitive) or a numeric stage index, as COPY --from accepts. */
function isStageReference(
  raw: Token,
  scope: Scope,
  escape: string,
  stageNames: ReadonlySet<string>,
): boolean {
  let value: string;
  try {
    const expanded = expandWord(raw.text, escape, scope);
    if (expanded.unresolved.length > 0) return false;
    value = expanded.value;
  } catch {
    return false;
  }
  return /^[0-9]+$/.test(value) || stageNames.has(value.toLowerCase()) || value === 'scratch';
}

/** The value of an ARG default or ENV; build-args can replace the former, never the latter. */
function propertyValue(
  property: Property,
  source: Source,
  scope: Scope,
  escape: string,
  fail: Fail,
  line: number,
  settable: boolean,
): Binding {
  const range = property.getValueRange();
  if (range === null) return null;
  const expanded = expandToken(source.token(range), scope, escape, fail, line);
  if (expanded.unresolved.length === 0) return expanded.value;
  const names = expanded.unresolved.map((item) => item.name).join(', ');
  return {
    reason: `${property.getName()} is set from ${names}, which cannot be resolved`,
    settable,
  };
}

function expandToken(
  raw: Token,
  scope: Scope,
  escape: string,
  fail: Fail,
  line: number,
): Expansion {
  try {
    return expandWord(raw.text, escape, scope);
  } catch (error) {
    if (error instanceof SubstitutionError) fail(`${raw.text}: ${error.message}`, line);
    throw error;
  }
}

function unresolvedMessage(written: string, unresolved: Unresolved[]): string {
  const reasons = unresolved.map((item) => item.reason).join('; ');
  const settable = unresolved.find((item) => item.settable);
  const hint = settable
    ? `give ARG ${settable.name} a default or set build-args.${settable.name} in image-builder.yml, or declare depends-on`
    : 'declare depends-on if it names an image of this repository';
  return `${written} cannot be resolved: ${reasons}; ${hint}`;
}

// ---------------------------------------------------------------------------------------
// Source text: dockerfile-ast gives line/character ranges; pins need offsets, and the
// token text needs its line continuations removed (BuildKit joins continued lines and
// drops the comment and blank lines between them before it lexes a word).

interface Position {
  line: number;
  character: number;
}

interface Token {
  /** The token with continuations removed, still unexpanded. */
  text: string;
  /** Offset in the original text of each character of `text`. */
  offsets: number[];
}

class Source {
  private readonly lineStarts: number[] = [0];

  constructor(
    private readonly text: string,
    private readonly escape: string,
  ) {
    // The same line breaks as vscode-languageserver-textdocument: \r\n, \r and \n.
    for (let i = 0; i < text.length; i++) {
      const ch = text[i];
      if (ch === '\r' && text[i + 1] === '\n') i++;
      if (ch === '\r' || ch === '\n') this.lineStarts.push(i + 1);
    }
  }

  offset(position: Position): number {
    return (this.lineStarts[position.line] ?? this.text.length) + position.character;
  }

  /** Whether the text of `range` holds `word` in any case (a cheap test before parsing flags). */
  mentions(range: { start: Position; end: Position }, word: string): boolean {
    const { start, end } = this.span(range);
    return this.text.slice(start, end).toLowerCase().includes(word);
  }

  span(range: { start: Position; end: Position }): { start: number; end: number } {
    return { start: this.offset(range.start), end: this.offset(range.end) };
  }

  token(range: { start: Position; end: Position }): Token {
    const { start, end } = this.span(range);
    const text: string[] = [];
    const offsets: number[] = [];
    let i = start;
    while (i < end) {
      const continued = this.continuationEnd(i, end);
      if (continued !== undefined) {
        i = continued;
        continue;
      }
      text.push(this.text[i]!);
      offsets.push(i);
      i++;
    }
    return { text: text.join(''), offsets };
  }

  /**
   * The rest of the logical line from `from`: continuations joined, up to the first line
   * break that does not continue (heredoc bodies start after it).
   */
  line(from: number): string {
    let result = '';
    let chunk = from;
    let i = from;
    while (i < this.text.length) {
      const ch = this.text[i];
      if (ch === '\r' || ch === '\n') break;
      const continued = ch === this.escape ? this.continuationEnd(i, this.text.length) : undefined;
      if (continued === undefined) {
        i++;
      } else {
        result += this.text.slice(chunk, i);
        i = chunk = continued;
      }
    }
    return result + this.text.slice(chunk, i);
  }

  /** Where the next line of a continuation starts when one begins at `at`. */
  private continuationEnd(at: number, end: number): number | undefined {
    if (this.text[at] !== this.escape) return undefined;
    let i = at + 1;
    while (this.text[i] === ' ' || this.text[i] === '\t') i++;
    if (this.text[i] !== '\r' && this.text[i] !== '\n') return undefined;
    i += this.text[i] === '\r' && this.text[i + 1] === '\n' ? 2 : 1;
    // Blank and comment lines inside a continuation are not part of the instruction.
    for (;;) {
      const lineEnd = this.lineEndFrom(i);
      const content = this.text.slice(i, lineEnd).trim();
      if (lineEnd >= end || (content !== '' && !content.startsWith('#'))) return i;
      i = lineEnd + (this.text[lineEnd] === '\r' && this.text[lineEnd + 1] === '\n' ? 2 : 1);
    }
  }

  private lineEndFrom(at: number): number {
    let i = at;
    while (i < this.text.length && this.text[i] !== '\r' && this.text[i] !== '\n') i++;
    return i;
  }
}

function sliceToken(token: Token, from: number, to: number): Token {
  return { text: token.text.slice(from, to), offsets: token.offsets.slice(from, to) };
}

/** The original-text span of a token, or of an empty token just before `fallback`. */
function tokenSpan(token: Token, fallback: number): { start: number; end: number } {
  const first = token.offsets[0];
  const last = token.offsets[token.offsets.length - 1];
  return first === undefined || last === undefined
    ? { start: fallback, end: fallback }
    : { start: first, end: last + 1 };
}

interface MountField {
  key: MountKey;
  /** Unquoted, still unexpanded. */
  value: Token;
  /** What a pin of the field replaces (from= fields only). */
  span?: { start: number; end: number; prefix: string };
}

type MountKey = 'from' | 'type' | 'source' | 'src';

/** The field keys a mount is read for (lowercased, as BuildKit compares them). */
function mountKey(key: string): MountKey | undefined {
  const lower = key.trim().toLowerCase();
  return lower === 'from' || lower === 'type' || lower === 'source' || lower === 'src'
    ? lower
    : undefined;
}

/**
 * The `from=`, `type=` and `source=`/`src=` fields of a --mount value. BuildKit reads the
 * value as one CSV record (encoding/csv), so a field may be double-quoted with `""` for a
 * quote.
 */
function mountFields(value: Token): MountField[] {
  const found: MountField[] = [];
  let i = 0;
  while (i <= value.text.length) {
    const fieldStart = i;
    if (value.text[i] === '"') {
      // Quoted field: unquote it, and on a pin rewrite it whole as from=<new>.
      const chars: string[] = [];
      const offsets: number[] = [];
      i++;
      while (i < value.text.length) {
        if (value.text[i] === '"' && value.text[i + 1] === '"') {
          chars.push('"');
          offsets.push(value.offsets[i]!);
          i += 2;
        } else if (value.text[i] === '"') {
          i++;
          break;
        } else {
          chars.push(value.text[i]!);
          offsets.push(value.offsets[i]!);
          i++;
        }
      }
      while (i < value.text.length && value.text[i] !== ',') i++;
      const field: Token = { text: chars.join(''), offsets };
      const eq = field.text.indexOf('=');
      const key = eq === -1 ? undefined : mountKey(field.text.slice(0, eq));
      if (key === 'from') {
        const whole = tokenSpan(sliceToken(value, fieldStart, i), value.offsets[fieldStart] ?? 0);
        found.push({
          key,
          value: sliceToken(field, eq + 1, field.text.length),
          span: { ...whole, prefix: `${field.text.slice(0, eq)}=` },
        });
      } else if (key !== undefined) {
        found.push({ key, value: sliceToken(field, eq + 1, field.text.length) });
      }
    } else {
      let fieldEnd = value.text.indexOf(',', i);
      if (fieldEnd === -1) fieldEnd = value.text.length;
      const field = value.text.slice(fieldStart, fieldEnd);
      const eq = field.indexOf('=');
      const key = eq === -1 ? undefined : mountKey(field.slice(0, eq));
      if (key !== undefined) {
        const token = sliceToken(value, fieldStart + eq + 1, fieldEnd);
        if (key === 'from') {
          const after = value.offsets[fieldStart + eq] ?? 0;
          found.push({ key, value: token, span: { ...tokenSpan(token, after + 1), prefix: '' } });
        } else {
          found.push({ key, value: token });
        }
      }
      i = fieldEnd;
    }
    i++;
  }
  return found;
}

// ---------------------------------------------------------------------------------------
// Context sources: the paths of the build context a build reads. A result of undefined
// means the whole context (`.`, an unresolved variable, a path escaping with `..`); null
// means nothing from the context.

/** The context paths a build reads, in the order first read. */
class ContextReads {
  /** undefined once the build may read the whole context. */
  private paths: Set<string> | undefined = new Set();

  get whole(): boolean {
    return this.paths === undefined;
  }

  /** A path read; undefined: the whole context; null: nothing from the context. */
  read(path: string | null | undefined): void {
    if (path === undefined) this.paths = undefined;
    else if (path !== null) this.paths?.add(path);
  }

  list(): string[] | undefined {
    return this.paths === undefined ? undefined : [...this.paths];
  }
}

interface CopyArguments {
  /** Whether a --from flag names another stage or an image to read from instead. */
  from: boolean;
  /** The source words (the destination dropped): shell words as written, or JSON strings. */
  sources: string[];
  json: boolean;
}

const BLANKS = /[ \t\v\f]+/;

function isBlank(ch: string | undefined): boolean {
  return ch === ' ' || ch === '\t' || ch === '\v' || ch === '\f';
}

/**
 * Splits the arguments of COPY or ADD (the logical line after the keyword) the way BuildKit
 * does: leading words starting with `--` are flags (a bare `--` ends them, quotes keep
 * blanks inside a flag), the rest is a JSON array of strings or else words split at blanks.
 */
function copyArguments(line: string): CopyArguments {
  let from = false;
  let i = 0;
  for (;;) {
    while (isBlank(line[i])) i++;
    if (line[i] !== '-' || line[i + 1] !== '-') break;
    const start = i;
    let quote: string | undefined;
    while (i < line.length && (quote !== undefined || !isBlank(line[i]))) {
      const ch = line[i];
      if (quote === undefined && (ch === '"' || ch === "'")) quote = ch;
      else if (ch === quote) quote = undefined;
      i++;
    }
    const flag = line.slice(start + 2, i);
    if (flag === '') break;
    if (flag === 'from' || flag.startsWith('from=')) from = true;
  }
  const rest = line.slice(i).trim();
  if (rest.startsWith('[')) {
    const json = parseJsonStrings(rest);
    if (json !== undefined) return { from, sources: json.slice(0, -1), json: true };
  }
  return { from, sources: rest === '' ? [] : rest.split(BLANKS).slice(0, -1), json: false };
}

function parseJsonStrings(text: string): string[] | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  return Array.isArray(parsed) && parsed.every((item) => typeof item === 'string')
    ? (parsed as string[])
    : undefined;
}

// BuildKit's heredoc word: `<<EOF`, `<<-EOF`, `<<"EOF"`, with an optional file descriptor.
const HEREDOC = /^[0-9]*<<-?[^<]+$/;
// ADD reads URLs (http, https, git, ssh…) and scp-like git remotes (`git@host:repo.git`)
// from the network. A bare `repo.git` is a path in the context, as BuildKit reads it.
const REMOTE = /^(?:[A-Za-z][A-Za-z0-9+.-]*:\/\/|[A-Za-z0-9_.-]+@[A-Za-z0-9_.-]+:)/;

/** The context path a COPY/ADD source reads; null for a heredoc or a remote ADD source. */
function copySource(
  word: string,
  json: boolean,
  add: boolean,
  scope: Scope,
  escape: string,
): string | null | undefined {
  if (!json && HEREDOC.test(word)) return null;
  const value = expandPath(word, scope, escape);
  if (value === undefined) return undefined;
  if (add && REMOTE.test(value)) return null;
  return contextPath(value, escape);
}

/**
 * The context path a RUN --mount binds; null for other mount types and binds from= a
 * stage or image. A bind without source= binds the whole context.
 */
function mountSource(
  fields: MountField[],
  scope: Scope,
  escape: string,
): string | null | undefined {
  let type: string | undefined = 'bind';
  let from = false;
  let source: Token | undefined;
  for (const field of fields) {
    if (field.key === 'type') {
      // A type that cannot be resolved might be bind.
      type = expandPath(field.value.text, scope, escape)?.toLowerCase();
    } else if (field.key === 'from') {
      from = true;
    } else if (field.key === 'source' || field.key === 'src') {
      source = field.value;
    }
  }
  if (from || (type !== undefined && type !== 'bind')) return null;
  if (source === undefined) return undefined;
  const value = expandPath(source.text, scope, escape);
  return value === undefined ? undefined : contextPath(value, escape);
}

const NEEDS_LEXING = /[$'"]/;

/** A word expanded in `scope`; undefined when it cannot be resolved (no error raised). */
function expandPath(word: string, scope: Scope, escape: string): string | undefined {
  if (!NEEDS_LEXING.test(word) && !word.includes(escape)) return word;
  try {
    const expanded = expandWord(word, escape, scope);
    return expanded.unresolved.length === 0 ? expanded.value : undefined;
  } catch (error) {
    if (error instanceof SubstitutionError) return undefined;
    throw error;
  }
}

/**
 * A source relative to the context root, as BuildKit resolves it: leading `./` and `/`,
 * a trailing `/`, empty and `.` segments dropped, `dir/..` folded. Undefined for the root
 * itself or a path escaping it. With a non-default escape character (Windows Dockerfiles)
 * a backslash separates directories too.
 */
function contextPath(value: string, escape: string): string | undefined {
  const segments: string[] = [];
  for (const segment of (escape === '\\' ? value : value.replaceAll('\\', '/')).split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      const parent = segments.pop();
      // `glob/..` is rare: read it as the whole context rather than fold it.
      if (parent === undefined || /[*?[]/.test(parent)) return undefined;
    } else {
      segments.push(segment);
    }
  }
  return segments.length === 0 ? undefined : segments.join('/');
}

// ---------------------------------------------------------------------------------------
// Variable expansion, after BuildKit's shell.Lex: quotes, the escape character, $NAME,
// ${NAME}, ${NAME:-word}, ${NAME-word}, ${NAME:+word}, ${NAME+word}, ${NAME:?word},
// ${NAME?word}. Instead of expanding an unknown value to '' as BuildKit would, the
// variable is reported so that the caller can warn.

interface Unresolved {
  name: string;
  reason: string;
  settable: boolean;
}

interface Expansion {
  value: string;
  unresolved: Unresolved[];
}

class SubstitutionError extends Error {}

function expandWord(word: string, escape: string, scope: Scope): Expansion {
  const lexer = new Lexer(word, escape, scope);
  const value = lexer.processUntil(undefined);
  return { value, unresolved: lexer.unresolved };
}

class Lexer {
  private at = 0;
  readonly unresolved: Unresolved[] = [];

  constructor(
    private readonly word: string,
    private readonly escape: string,
    private readonly scope: Scope,
  ) {}

  processUntil(stop: string | undefined): string {
    let result = '';
    while (this.at < this.word.length) {
      const ch = this.word[this.at]!;
      if (ch === stop) {
        this.at++;
        return result;
      }
      if (ch === "'") result += this.singleQuoted();
      else if (ch === '"') result += this.doubleQuoted();
      else if (ch === '$') result += this.dollar();
      else {
        this.at++;
        if (ch === this.escape) {
          if (this.at >= this.word.length) break;
          result += this.word[this.at++];
        } else {
          result += ch;
        }
      }
    }
    if (stop !== undefined) throw new SubstitutionError(`missing "${stop}"`);
    return result;
  }

  private singleQuoted(): string {
    const end = this.word.indexOf("'", this.at + 1);
    if (end === -1) throw new SubstitutionError('unmatched single quote');
    const text = this.word.slice(this.at + 1, end);
    this.at = end + 1;
    return text;
  }

  private doubleQuoted(): string {
    let result = '';
    this.at++;
    while (this.at < this.word.length) {
      const ch = this.word[this.at]!;
      if (ch === '"') {
        this.at++;
        return result;
      }
      if (ch === '$') {
        result += this.dollar();
        continue;
      }
      this.at++;
      const next = this.word[this.at];
      // Inside double quotes the escape character escapes only ", $ and itself.
      if (ch === this.escape && (next === '"' || next === '$' || next === this.escape)) {
        result += next;
        this.at++;
      } else {
        result += ch;
      }
    }
    throw new SubstitutionError('unmatched double quote');
  }

  private name(): string {
    const match = /^(?:[0-9]+|[A-Za-z0-9_]+)/.exec(this.word.slice(this.at));
    const name = match?.[0] ?? '';
    this.at += name.length;
    return name;
  }

  private dollar(): string {
    this.at++;
    if (this.word[this.at] !== '{') {
      const name = this.name();
      return name === '' ? '$' : this.value(name);
    }
    this.at++;
    const name = this.name();
    if (name === '') throw new SubstitutionError('bad substitution');
    const ch = this.word[this.at];
    this.at++;
    if (ch === '}') return this.value(name);
    const colon = ch === ':';
    const modifier = colon ? this.word[this.at++] : ch;
    if (modifier === '-' || modifier === '+' || modifier === '?') {
      return this.modified(name, colon, modifier);
    }
    if (modifier === '#' || modifier === '%' || modifier === '/') {
      // Pattern removal and replacement: rare in image references; not evaluated here.
      this.nested();
      this.unresolved.push({
        name,
        reason: `\${${name}${modifier}…} is not evaluated by image-builder`,
        settable: false,
      });
      return '';
    }
    throw new SubstitutionError(
      modifier === undefined ? 'missing "}"' : `unsupported modifier (${modifier}) in substitution`,
    );
  }

  /** The word after a modifier, expanded with its own unresolved variables kept apart. */
  private nested(): Expansion {
    const inner = new Lexer(this.word, this.escape, this.scope);
    inner.at = this.at;
    const value = inner.processUntil('}');
    this.at = inner.at;
    return { value, unresolved: inner.unresolved };
  }

  private modified(name: string, colon: boolean, modifier: string): string {
    const word = this.nested();
    const binding = this.scope.lookup(name);
    const useWord = (): string => {
      this.unresolved.push(...word.unresolved);
      return word.value;
    };
    if (binding !== null && binding !== undefined && typeof binding !== 'string') {
      // Known to be set, value unknown: only ${NAME+word} has a known result.
      if (modifier === '+' && !colon) return useWord();
      this.unresolved.push({ name, ...binding });
      return '';
    }
    const set = typeof binding === 'string';
    const nonEmpty = set && binding !== '';
    const present = colon ? nonEmpty : set;
    if (modifier === '-') return present ? (binding as string) : useWord();
    if (modifier === '+') return present ? useWord() : '';
    if (present) return binding as string;
    this.unresolved.push(
      typeof binding === 'string'
        ? { name, reason: `${name} is empty`, settable: true }
        : this.unset(name, binding),
    );
    return '';
  }

  private value(name: string): string {
    const binding = this.scope.lookup(name);
    if (typeof binding === 'string') return binding;
    if (binding === null || binding === undefined) {
      this.unresolved.push(this.unset(name, binding));
    } else {
      this.unresolved.push({ name, ...binding });
    }
    return '';
  }

  private unset(name: string, binding: null | undefined): Unresolved {
    const reason =
      binding === null
        ? `ARG ${name} has no default and no build-arg sets it`
        : this.scope.undeclared(name);
    return { name, reason, settable: true };
  }
}
