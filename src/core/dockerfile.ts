// Reads a Dockerfile the way BuildKit does for the parts that matter to the image graph:
// which images each stage starts FROM, which images COPY --from and RUN --mount=from read,
// and which paths of the build context COPY, ADD and RUN --mount bind in. The lexer
// (./dockerfile-lexer.ts) splits the text into instructions as BuildKit's parser does (line
// continuations, directives, comments, heredocs) and reads their flags and words; variable
// expansion follows BuildKit's shell lexer
// (https://github.com/moby/buildkit/blob/master/frontend/dockerfile/shell/lex.go).

import {
  type Instruction,
  LexError,
  lexDockerfile,
  type Property,
  type Range,
} from './dockerfile-lexer.js';
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

/** The ARGs before the first FROM, and the platform ARGs the builder sets. */
class GlobalScope implements Scope {
  private values: Map<string, Binding> | undefined;

  constructor(private readonly buildArgs: Record<string, string>) {}

  set(name: string, value: Binding): void {
    (this.values ??= new Map()).set(name, value);
  }

  lookup(name: string): Binding | undefined {
    const value = this.values?.get(name);
    if (value !== undefined || this.values?.has(name)) return value;
    const platform = PLATFORM_BINDINGS.get(name);
    return platform === undefined ? undefined : (this.buildArgs[name] ?? platform);
  }

  undeclared(name: string): string {
    return `${name} is not declared by an ARG before the first FROM`;
  }
}

/**
 * The ARGs of a stage and its ENVs: those of the stage it is built FROM (finished by then,
 * so shared until this stage sets one), then its own. Maps are made on the first entry.
 */
class StageScope implements Scope {
  private args: Map<string, Binding> | undefined;
  private ownEnv = false;

  constructor(private env: Map<string, Binding> | undefined) {}

  /** The ENVs at the end of the stage, for the stages built FROM it. */
  envs(): Map<string, Binding> | undefined {
    return this.env;
  }

  setArg(name: string, value: Binding): void {
    (this.args ??= new Map()).set(name, value);
  }

  setEnv(name: string, value: Binding): void {
    if (!this.ownEnv) {
      this.env = new Map(this.env);
      this.ownEnv = true;
    }
    this.env!.set(name, value);
  }

  lookup(name: string): Binding | undefined {
    const env = this.env;
    return env !== undefined && env.has(name) ? env.get(name) : this.args?.get(name);
  }

  undeclared(name: string): string {
    return `${name} is not declared by an ARG in this stage`;
  }
}

const PLATFORM_BINDINGS: ReadonlyMap<string, Unknown> = new Map(
  PLATFORM_ARGS.map((name) => [
    name,
    { reason: `${name} is set per target platform`, settable: false },
  ]),
);

function scan(
  text: string,
  file: string,
  buildArgs: Record<string, string>,
): { info: DockerfileInfo; spans: UseSpan[] } {
  const scanner = new Scanner(file, buildArgs);
  try {
    scanner.scan(text);
  } catch (error) {
    if (error instanceof LexError) scanner.fail(error.message, error.line);
    throw error;
  }
  const info: DockerfileInfo = {
    stages: scanner.stages,
    uses: scanner.uses,
    warnings: scanner.warnings,
  };
  const contextSources = scanner.context.list();
  if (contextSources !== undefined) info.contextSources = contextSources;
  return { info, spans: scanner.spans };
}

/** The state of one scan: stages so far, variables in scope, what was found. */
class Scanner {
  readonly stages: DockerfileStage[] = [];
  readonly uses: ImageUse[] = [];
  readonly spans: UseSpan[] = [];
  readonly warnings: DockerfileInfo['warnings'] = [];
  readonly context = new ContextReads();
  private readonly global: GlobalScope;
  /** The scope of each stage, for the ENVs of the stages built FROM it. */
  private readonly stageScopes: StageScope[] = [];
  private stage: StageScope | undefined;
  private escape = '\\';
  /** Every stage name: COPY --from and --mount from= may name a later stage too. */
  private allStageNames: Set<string> | undefined;

  constructor(
    private readonly file: string,
    private readonly buildArgs: Record<string, string>,
  ) {
    this.global = new GlobalScope(buildArgs);
  }

  fail(message: string, line?: number): never {
    const file = this.file;
    throw new DockerfileError(message, line === undefined ? { file } : { file, line });
  }

  scan(text: string): void {
    const { escape, instructions } = lexDockerfile(text);
    this.escape = escape;
    let from = false;
    // BuildKit indexes every stage before it resolves COPY --from and --mount from=.
    for (let i = 0; i < instructions.length; i++) {
      const instruction = instructions[i]!;
      if (instruction.keyword !== 'FROM') continue;
      from = true;
      const name = instruction.words()[2];
      if (name === undefined) continue;
      (this.allStageNames ??= new Set()).add(slice(instruction, name).toLowerCase());
    }
    if (!from) this.fail('no FROM instruction: a Dockerfile must start a stage with FROM <image>');

    for (let i = 0; i < instructions.length; i++) {
      const instruction = instructions[i]!;
      const keyword = instruction.keyword;
      if (keyword === 'FROM') {
        this.from(instruction);
      } else if (this.stage === undefined) {
        if (keyword !== 'ARG') {
          this.fail(
            `${keyword} before the first FROM: only ARG may come before FROM`,
            instruction.line,
          );
        }
        this.globalArg(instruction);
      } else if (keyword === 'ARG') {
        this.stageArg(instruction, this.stage);
      } else if (keyword === 'ENV') {
        const properties = instruction.properties();
        for (let p = 0; p < properties.length; p++) {
          const property = properties[p]!;
          const value = this.propertyValue(instruction, property, this.stage, false);
          this.stage.setEnv(property.name, value);
        }
      } else if (keyword === 'COPY' || keyword === 'ADD') {
        this.copy(instruction, this.stage);
      } else if (keyword === 'RUN') {
        this.run(instruction, this.stage);
      }
    }
  }

  private from(instruction: Instruction): void {
    const line = instruction.line;
    const words = instruction.words();
    const image = words[0];
    if (image === undefined) this.fail('FROM needs an image', line);
    if (words.length !== 1 && words.length !== 3) {
      this.fail('FROM takes an image and optionally AS <name>', line);
    }
    const as = words[1] && slice(instruction, words[1]);
    if (as !== undefined && as.toUpperCase() !== 'AS') {
      this.fail(`FROM expects AS before the stage name, not "${as}"`, line);
    }
    const name = words[2] && slice(instruction, words[2]).toLowerCase();
    if (name !== undefined && !STAGE_NAME.test(name)) {
      this.fail(`stage name "${name}" must start with a letter and hold only a-z 0-9 . _ -`, line);
    }

    const written = slice(instruction, image);
    const expanded = this.expand(written, this.global, line);
    const resolved = expanded.unresolved.length === 0;
    const base = resolved ? expanded.value : written;
    const lower = base.toLowerCase();
    let parent = -1;
    for (let i = 0; resolved && parent === -1 && i < this.stages.length; i++) {
      if (this.stages[i]!.name === lower) parent = i;
    }

    this.stages.push(name === undefined ? { base, line } : { name, base, line });
    this.stage = new StageScope(this.stageScopes[parent]?.envs());
    this.stageScopes.push(this.stage);

    if (parent === -1 && lower !== 'scratch') {
      this.addUse('from', 'FROM ', written, expanded, line, instruction.span(image));
    }
  }

  private globalArg(instruction: Instruction): void {
    const properties = instruction.properties();
    for (let i = 0; i < properties.length; i++) {
      const property = properties[i]!;
      const name = property.name;
      const value =
        this.buildArgs[name] ?? this.propertyValue(instruction, property, this.global, true);
      // A bare `ARG TARGETARCH` only makes explicit what the builder already sets.
      if (value !== null || !PLATFORM_BINDINGS.has(name)) this.global.set(name, value);
    }
  }

  private stageArg(instruction: Instruction, stage: StageScope): void {
    const properties = instruction.properties();
    for (let i = 0; i < properties.length; i++) {
      const property = properties[i]!;
      const name = property.name;
      // A bare ARG in a stage takes the global value; build-args override any default.
      const value =
        this.buildArgs[name] ??
        (property.value === undefined
          ? (this.global.lookup(name) ?? null)
          : this.propertyValue(instruction, property, stage, true));
      stage.setArg(name, value);
    }
  }

  private copy(instruction: Instruction, stage: StageScope): void {
    let from = false;
    const flags = instruction.flags();
    for (let i = 0; i < flags.length; i++) {
      const flag = flags[i]!;
      if (flag.name !== 'from') continue;
      from = true;
      if (instruction.keyword !== 'COPY') continue;
      if (flag.value === undefined) this.fail('COPY --from needs a value', instruction.line);
      const written = slice(instruction, flag.value);
      if (this.isStageReference(written, stage)) continue;
      const span = instruction.span(flag.value);
      const expanded = this.expand(written, stage, instruction.line);
      this.addUse('copy-from', 'COPY --from=', written, expanded, instruction.line, span);
    }
    if (from || this.context.whole) return;
    // The sources: a JSON array of strings, or else words split at blanks; the last one
    // is the destination.
    const add = instruction.keyword === 'ADD';
    const json = instruction.json();
    if (json !== undefined) {
      for (let i = 0; i < json.length - 1; i++) {
        this.context.read(copySource(json[i]!, false, add, stage, this.escape));
      }
      return;
    }
    // The lexer found the heredocs (none in JSON form); a source word may open one.
    const heredocs = instruction.heredocs.length > 0;
    const words = instruction.words();
    for (let i = 0; i < words.length - 1; i++) {
      const word = slice(instruction, words[i]!);
      this.context.read(copySource(word, heredocs, add, stage, this.escape));
    }
  }

  private run(instruction: Instruction, stage: StageScope): void {
    const flags = instruction.flags();
    for (let i = 0; i < flags.length; i++) {
      const flag = flags[i]!;
      if (flag.name !== 'mount' || flag.value === undefined) continue;
      const fields = mountFields(instruction, flag.value);
      for (let f = 0; f < fields.length; f++) {
        const field = fields[f]!;
        if (field.span === undefined) continue;
        const written = field.value;
        if (this.isStageReference(written, stage)) continue;
        const expanded = this.expand(written, stage, instruction.line);
        this.addUse(
          'mount-from',
          'RUN --mount from=',
          written,
          expanded,
          instruction.line,
          field.span,
        );
      }
      if (!this.context.whole) this.context.read(mountSource(fields, stage, this.escape));
    }
  }

  /** Records an image use, or a warning when its reference cannot be resolved. */
  private addUse(
    kind: ImageUseKind,
    label: string,
    written: string,
    expanded: Expansion,
    line: number,
    span: { start: number; end: number; prefix?: string },
  ): void {
    if (expanded.unresolved.length > 0) {
      this.warnings.push({
        line,
        message: unresolvedMessage(`${label}${written}`, expanded.unresolved),
      });
      return;
    }
    let reference;
    try {
      reference = parseReference(expanded.value);
    } catch (error) {
      if (error instanceof NameError) this.fail(`${label}${written}: ${error.message}`, line);
      throw error;
    }
    const use: ImageUse = { kind, text: expanded.value, reference, line };
    this.uses.push(use);
    this.spans.push({ use, start: span.start, end: span.end, prefix: span.prefix ?? '' });
  }

  /** A stage name (case-insensitive) or a numeric stage index, as COPY --from accepts. */
  private isStageReference(written: string, scope: Scope): boolean {
    let value: string;
    try {
      const expanded = expandWord(written, this.escape, scope);
      if (expanded.unresolved.length > 0) return false;
      value = expanded.value;
    } catch {
      return false;
    }
    return (
      /^[0-9]+$/.test(value) ||
      value === 'scratch' ||
      this.allStageNames?.has(value.toLowerCase()) === true
    );
  }

  /** The value of an ARG default or ENV; build-args can replace the former, never the latter. */
  private propertyValue(
    instruction: Instruction,
    property: Property,
    scope: Scope,
    settable: boolean,
  ): Binding {
    if (property.value === undefined) return null;
    const written = slice(instruction, property.value);
    const expanded = this.expand(written, scope, instruction.line);
    if (expanded.unresolved.length === 0) return expanded.value;
    const names = expanded.unresolved.map((item) => item.name).join(', ');
    return {
      reason: `${property.name} is set from ${names}, which cannot be resolved`,
      settable,
    };
  }

  private expand(written: string, scope: Scope, line: number): Expansion {
    try {
      return expandWord(written, this.escape, scope);
    } catch (error) {
      if (error instanceof SubstitutionError) this.fail(`${written}: ${error.message}`, line);
      throw error;
    }
  }
}

/** The text of a range of an instruction's logical line. */
function slice(instruction: Instruction, range: Range): string {
  return instruction.text.slice(range.start, range.end);
}

function unresolvedMessage(written: string, unresolved: readonly Unresolved[]): string {
  const reasons = unresolved.map((item) => item.reason).join('; ');
  const settable = unresolved.find((item) => item.settable);
  const hint = settable
    ? `give ARG ${settable.name} a default or set build-args.${settable.name} in image-builder.yml, or declare depends-on`
    : 'declare depends-on if it names an image of this repository';
  return `${written} cannot be resolved: ${reasons}; ${hint}`;
}

// ---------------------------------------------------------------------------------------
// RUN --mount

interface MountField {
  key: MountKey;
  /** Unquoted, still unexpanded. */
  value: string;
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
 * The `from=`, `type=` and `source=`/`src=` fields of a --mount value (`range` of the
 * instruction's text). BuildKit reads the value as one CSV record (encoding/csv), so a
 * field may be double-quoted with `""` for a quote.
 */
function mountFields(instruction: Instruction, range: Range): MountField[] {
  const text = instruction.text;
  const end = range.end;
  const found: MountField[] = [];
  let i = range.start;
  while (i <= end) {
    const fieldStart = i;
    if (text[i] === '"' && i < end) {
      // A quoted field: unquote it, and on a pin rewrite it whole as from=<new>.
      let field = '';
      i++;
      while (i < end) {
        if (text[i] === '"' && text[i + 1] === '"' && i + 1 < end) {
          field += '"';
          i += 2;
        } else if (text[i] === '"') {
          i++;
          break;
        } else {
          field += text[i];
          i++;
        }
      }
      while (i < end && text[i] !== ',') i++;
      const eq = field.indexOf('=');
      const key = eq === -1 ? undefined : mountKey(field.slice(0, eq));
      if (key === 'from') {
        const whole = instruction.span({ start: fieldStart, end: i });
        const prefix = `${field.slice(0, eq)}=`;
        found.push({ key, value: field.slice(eq + 1), span: { ...whole, prefix } });
      } else if (key !== undefined) {
        found.push({ key, value: field.slice(eq + 1) });
      }
    } else {
      let fieldEnd = text.indexOf(',', i);
      if (fieldEnd === -1 || fieldEnd > end) fieldEnd = end;
      const eq = text.indexOf('=', fieldStart);
      const key = eq === -1 || eq >= fieldEnd ? undefined : mountKey(text.slice(fieldStart, eq));
      if (key !== undefined) {
        const value = { start: eq + 1, end: fieldEnd };
        const field: MountField = { key, value: text.slice(value.start, value.end) };
        if (key === 'from') field.span = { ...instruction.span(value), prefix: '' };
        found.push(field);
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
  /** Whether the build may read the whole context. */
  whole = false;
  private paths: Set<string> | undefined;

  /** A path read; undefined: the whole context; null: nothing from the context. */
  read(path: string | null | undefined): void {
    if (path === undefined) {
      this.whole = true;
      this.paths = undefined;
    } else if (path !== null && !this.whole) {
      (this.paths ??= new Set()).add(path);
    }
  }

  list(): string[] | undefined {
    if (this.whole) return undefined;
    return this.paths === undefined ? [] : [...this.paths];
  }
}

// BuildKit's heredoc word: `<<EOF`, `<<-EOF`, `<<"EOF"`, with an optional file descriptor.
const HEREDOC = /^[0-9]*<<-?[^<]+$/;
// ADD reads URLs (http, https, git, ssh…) and scp-like git remotes (`git@host:repo.git`)
// from the network. A bare `repo.git` is a path in the context, as BuildKit reads it.
const REMOTE = /^(?:[A-Za-z][A-Za-z0-9+.-]*:\/\/|[A-Za-z0-9_.-]+@[A-Za-z0-9_.-]+:)/;

/**
 * The context path a COPY/ADD source reads; null for a heredoc (when the instruction opens
 * any) or a remote ADD source.
 */
function copySource(
  word: string,
  heredocs: boolean,
  add: boolean,
  scope: Scope,
  escape: string,
): string | null | undefined {
  if (heredocs && HEREDOC.test(word)) return null;
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
  let source: string | undefined;
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i]!;
    if (field.key === 'type') {
      // A type that cannot be resolved might be bind.
      type = expandPath(field.value, scope, escape)?.toLowerCase();
    } else if (field.key === 'from') {
      from = true;
    } else if (field.key === 'source' || field.key === 'src') {
      source = field.value;
    }
  }
  if (from || (type !== undefined && type !== 'bind')) return null;
  if (source === undefined) return undefined;
  const value = expandPath(source, scope, escape);
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
  unresolved: readonly Unresolved[];
}

class SubstitutionError extends Error {}

const NO_UNRESOLVED: readonly Unresolved[] = Object.freeze([]);

function expandWord(word: string, escape: string, scope: Scope): Expansion {
  // Most words hold nothing to expand.
  if (!NEEDS_LEXING.test(word) && !word.includes(escape)) {
    return { value: word, unresolved: NO_UNRESOLVED };
  }
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
