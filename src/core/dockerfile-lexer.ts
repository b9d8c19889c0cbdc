// Splits a Dockerfile into instructions the way BuildKit's parser does
// (https://github.com/moby/buildkit/tree/master/frontend/dockerfile/parser: parser.go,
// directives.go, split_command.go, line_parsers.go): parser directives, comments, blank
// lines, line continuations, heredoc bodies; and reads the parts of an instruction's
// arguments the image graph needs (flags, words, JSON form, ARG/ENV properties).
//
// One pass over the text, a physical line at a time. An instruction keeps its logical line
// (continuations joined, comment and blank lines inside dropped, as BuildKit joins them)
// and a few numbers mapping it back to source offsets, so that a caller can rewrite a token
// in place. Arguments are read only when asked for. Scans use string builtins and sticky
// regular expressions where they can: most of the time this code runs before the JIT has
// optimised it, one Dockerfile each of thousands.

/** A Dockerfile BuildKit's parser refuses; `line` is 1-based. */
export class LexError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(message);
    this.name = 'LexError';
  }
}

export interface Directive {
  /** Lowercased: syntax, escape or check. */
  name: string;
  value: string;
  line: number;
}

export interface Heredoc {
  /** The terminator, unquoted. */
  name: string;
  /** `<<-`: leading tabs are stripped from the body and terminator. */
  chomp: boolean;
  /** Source offsets of the body: from its first line up to the terminator line. */
  start: number;
  end: number;
}

/** Indices into an instruction's `text`, end exclusive. */
export interface Range {
  start: number;
  end: number;
}

export interface Flag {
  /** Without the leading `--`, as written. */
  name: string;
  /** The whole word, from `--`. */
  range: Range;
  /** After the first `=`, quotes kept; undefined for a bare `--name`. */
  value: Range | undefined;
}

export interface Property {
  name: string;
  /** After the first `=`, quotes and escapes kept; undefined for a bare `ARG name`. */
  value: Range | undefined;
}

export interface LexedDockerfile {
  /** The escape character: `\` unless a directive sets `` ` ``. */
  escape: string;
  directives: Directive[];
  instructions: Instruction[];
}

const TAB = 9;
const CR = 13;
const SPACE = 32;
const QUOTE = 34;
const HASH = 35;
const APOSTROPHE = 39;
const DASH = 45;
const BACKSLASH = 92;

// BuildKit's reWhitespace ([\t\v\f\r ]): what separates the keyword, FROM's words and the
// shell-form words of COPY/ADD.
function isBlank(c: number): boolean {
  return c === SPACE || c === TAB || c === 11 || c === 12 || c === CR;
}

// Go's unicode.IsSpace: what BuildKit trims lines with and splits flags and ARG/ENV at.
function isSpace(c: number): boolean {
  if (c <= SPACE) return c === SPACE || (c >= TAB && c <= CR);
  return (
    c >= 0x85 &&
    (c === 0x85 ||
      c === 0xa0 ||
      c === 0x1680 ||
      (c >= 0x2000 && c <= 0x200a) ||
      c === 0x2028 ||
      c === 0x2029 ||
      c === 0x202f ||
      c === 0x205f ||
      c === 0x3000)
  );
}

// Go's regexp \s is [\t\n\f\r ], and its . anything but \n.
const DIRECTIVE =
  /^#[\t\n\f\r ]*([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*([^\n]+?)[\t\n\f\r ]*$/;
const KNOWN_DIRECTIVES = new Set(['syntax', 'escape', 'check']);
const HEREDOC_WORD = /^[0-9]*<<(-?)([^<]*)$/;
const HEREDOC_KEYWORDS = new Set(['RUN', 'COPY', 'ADD']);
const BLANK = /[\t\v\f\r ]/g;
// What ends a word or needs a closer look: unicode.IsSpace, quotes, escapes.
const WORD_STOP = /[\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"'\\`]/g;
const NO_HEREDOCS: readonly Heredoc[] = Object.freeze([]);
const NO_FLAGS: readonly Flag[] = Object.freeze([]);

/** One instruction: its keyword, lines, logical line and heredocs. */
export class Instruction {
  /** The keyword, uppercased. */
  readonly keyword: string;
  /** Where the arguments start in `text`: after the keyword and the blanks after it. */
  readonly argsStart: number;
  /** The last line (1-based) of the instruction, its heredoc bodies included. */
  endLine: number;
  /** The heredocs the instruction opens; their bodies follow it, in this order. */
  heredocs: readonly Heredoc[] = NO_HEREDOCS;
  private flagsRead = false;
  private flagList: readonly Flag[] = NO_FLAGS;
  private rest = 0;
  private lexedWords: Range[] | undefined = undefined;

  constructor(
    /** The logical line: continuations joined, comment and blank lines inside dropped, trimmed. */
    readonly text: string,
    /** The line (1-based) of the keyword. */
    readonly line: number,
    /** Pairs [index in text, source offset], one per physical line of the logical line. */
    private readonly pieces: number[],
    /** The escape character ARG and ENV words are read with. */
    private readonly escape: string,
  ) {
    const keywordEnd = blankAt(text, 0);
    let argsStart = keywordEnd;
    while (argsStart < text.length && isBlank(text.charCodeAt(argsStart))) argsStart++;
    this.keyword = text.slice(0, keywordEnd).toUpperCase();
    this.argsStart = argsStart;
    this.endLine = line;
  }

  /** The source offset of `text[index]`. */
  offset(index: number): number {
    const pieces = this.pieces;
    let k = 0;
    while (k + 2 < pieces.length && pieces[k + 2]! <= index) k += 2;
    return pieces[k + 1]! + index - pieces[k]!;
  }

  /** The source span of a range: from its first character to just after its last. */
  span(range: Range): { start: number; end: number } {
    if (range.end > range.start) {
      return { start: this.offset(range.start), end: this.offset(range.end - 1) + 1 };
    }
    const at =
      range.start < this.text.length
        ? this.offset(range.start)
        : this.offset(this.text.length - 1) + 1;
    return { start: at, end: at };
  }

  /** The flags at the start of the arguments (BuildKit's extractBuilderFlags). */
  flags(): readonly Flag[] {
    if (!this.flagsRead) this.readFlags();
    return this.flagList;
  }

  /** Where the arguments after the flags start in `text`. */
  restStart(): number {
    if (!this.flagsRead) this.readFlags();
    return this.rest;
  }

  /** The arguments after the flags split at blanks, quotes not honoured (FROM, COPY, ADD). */
  words(): Range[] {
    if (this.lexedWords !== undefined) return this.lexedWords;
    const text = this.text;
    const words: Range[] = [];
    let i = this.restStart();
    while (i < text.length) {
      const end = blankAt(text, i);
      words.push({ start: i, end });
      i = end;
      while (i < text.length && isBlank(text.charCodeAt(i))) i++;
    }
    return (this.lexedWords = words);
  }

  /** The arguments after the flags as a JSON array of strings (exec form), if they are one. */
  json(): string[] | undefined {
    return jsonArray(this.text, this.restStart());
  }

  private readFlags(): void {
    this.flagsRead = true;
    this.rest = this.argsStart;
    // Most instructions have none (argsStart is at a space only with Unicode spaces).
    if (this.text.charCodeAt(this.argsStart) !== DASH && !isSpaceAt(this.text, this.argsStart)) {
      return;
    }
    const { flags, rest } = extractFlags(this.text, this.argsStart);
    this.flagList = flags;
    this.rest = rest;
  }

  /**
   * The name[=value] pairs of ARG, or of ENV (also its old form `ENV name value…`, the value
   * running to the end). Throws LexError where BuildKit refuses an ENV.
   */
  properties(): Property[] {
    const text = this.text;
    const rest = this.restStart();
    const words = shellWords(text, rest, this.escape.charCodeAt(0));
    const env = this.keyword === 'ENV';
    const first = words[0];
    if (env && first === undefined) {
      throw new LexError('ENV requires at least one argument', this.line);
    }
    if (env && first !== undefined && !text.slice(first.start, first.end).includes('=')) {
      // The old form: a name, then the rest of the line is the value.
      const nameEnd = blankAt(text, rest);
      let valueStart = nameEnd;
      while (valueStart < text.length && isBlank(text.charCodeAt(valueStart))) valueStart++;
      if (valueStart === text.length) throw new LexError('ENV must have two arguments', this.line);
      return [{ name: text.slice(rest, nameEnd), value: { start: valueStart, end: text.length } }];
    }
    const properties: Property[] = [];
    for (let i = 0; i < words.length; i++) {
      const word = words[i]!;
      const eq = text.indexOf('=', word.start);
      if (eq !== -1 && eq < word.end) {
        const name = text.slice(word.start, eq);
        properties.push({ name, value: { start: eq + 1, end: word.end } });
      } else if (env) {
        const written = text.slice(word.start, word.end);
        throw new LexError(
          `Syntax error - can't find = in "${written}". Must be of the form: name=value`,
          this.line,
        );
      } else {
        properties.push({ name: text.slice(word.start, word.end), value: undefined });
      }
    }
    return properties;
  }
}

/** Lexes a Dockerfile. Throws LexError where BuildKit's parser would refuse it. */
export function lexDockerfile(text: string): LexedDockerfile {
  const length = text.length;
  const directives: Directive[] = [];
  const instructions: Instruction[] = [];
  let escape = '\\';
  let escapeCode = BACKSLASH;
  let directivesDone = false;
  let line = 0;
  // The current physical line is [start, end), its line break left out; next: the line
  // after it. BuildKit strips a byte-order mark from the first line.
  let start: number;
  let end: number;
  let next = text.charCodeAt(0) === 0xfeff ? 1 : 0;

  while (next < length) {
    // Read a line (BuildKit's scanner ends lines at \n only). bytes.TrimRight(line,
    // "\r\n") drops the \r of \r\n; a lone \r inside a line stays there, a blank.
    start = next;
    end = text.indexOf('\n', start);
    if (end === -1) end = length;
    next = end + 1;
    while (end > start && text.charCodeAt(end - 1) === CR) end--;
    line++;

    const first = skipSpace(text, start, end);
    if (!directivesDone) {
      const directive = first < end ? readDirective(text.slice(first, end), line) : undefined;
      if (directive === undefined) {
        directivesDone = true;
      } else if (directives.some((seen) => seen.name === directive.name)) {
        throw new LexError(`only one ${directive.name} parser directive can be used`, line);
      } else {
        directives.push(directive);
        if (directive.name === 'escape') {
          escape = directive.value;
          escapeCode = escape.charCodeAt(0);
        }
      }
    }
    // Blank and comment lines.
    if (first === end || text.charCodeAt(first) === HASH) continue;

    // An instruction: this line, left-trimmed, then the lines it continues onto, which keep
    // their leading blanks; comment and blank lines between them are dropped.
    const firstLine = line;
    const pieces = [0, first];
    let cut = continuation(text, first, end, escapeCode);
    let logical = text.slice(first, cut === -1 ? end : cut);
    while (cut !== -1 && next < length) {
      // Read a line, as above (inline: this runs for every line of thousands of files).
      start = next;
      end = text.indexOf('\n', start);
      if (end === -1) end = length;
      next = end + 1;
      while (end > start && text.charCodeAt(end - 1) === CR) end--;
      line++;
      const first = skipSpace(text, start, end);
      if (first === end || text.charCodeAt(first) === HASH) continue;
      cut = continuation(text, start, end, escapeCode);
      pieces.push(logical.length, start);
      logical += text.slice(start, cut === -1 ? end : cut);
    }

    // Trimmed as splitCommand does. Only a first line holding just the escape character
    // leaves blanks at the start; a logical line left blank is no instruction.
    let to = logical.length;
    while (to > 0 && isSpaceAt(logical, to - 1)) to--;
    const from = skipSpace(logical, 0, to);
    if (from === to) continue;
    if (from > 0) for (let k = 0; k < pieces.length; k += 2) pieces[k] = pieces[k]! - from;
    if (from > 0 || to < logical.length) logical = logical.slice(from, to);

    const instruction = new Instruction(logical, firstLine, pieces, escape);
    instructions.push(instruction);
    if (logical.includes('<<')) {
      // Heredoc bodies follow the instruction, one after the other, each up to the line
      // that is its name (after leading tabs with <<-).
      const heredocs: Heredoc[] = [];
      for (const { name, chomp } of heredocsOf(instruction)) {
        const body = next;
        let terminated = false;
        while (!terminated && next < length) {
          // Read a line, as above.
          start = next;
          end = text.indexOf('\n', start);
          if (end === -1) end = length;
          next = end + 1;
          while (end > start && text.charCodeAt(end - 1) === CR) end--;
          line++;
          let from = start;
          if (chomp) while (from < end && text.charCodeAt(from) === TAB) from++;
          terminated = end - from === name.length && text.startsWith(name, from);
        }
        if (!terminated) throw new LexError('unterminated heredoc', firstLine);
        heredocs.push({ name, chomp, start: body, end: start });
      }
      if (heredocs.length > 0) instruction.heredocs = heredocs;
    }
    instruction.endLine = line;
  }

  return { escape, directives, instructions };
}

/**
 * A parser directive (`# name=value`, BuildKit's directive regexp on the left-trimmed
 * line) of a known name, or undefined. Throws on an escape other than \ or `.
 */
function readDirective(content: string, line: number): Directive | undefined {
  if (content.charCodeAt(0) !== HASH) return undefined;
  const match = DIRECTIVE.exec(content);
  const name = match?.[1]?.toLowerCase();
  const value = match?.[2];
  if (name === undefined || value === undefined || !KNOWN_DIRECTIVES.has(name)) return undefined;
  if (name === 'escape' && value !== '`' && value !== '\\') {
    throw new LexError(`invalid escape token '${value}' does not match \` or \\`, line);
  }
  return { name, value, line };
}

/**
 * Where the content of the line [from, end) ends when the line continues: it ends with the
 * escape character, then only blanks and tabs, and that escape character is not itself
 * escaped (BuildKit's lineContinuationRegex). Else -1.
 */
function continuation(text: string, from: number, end: number, escape: number): number {
  let k = end - 1;
  while (k >= from && (text.charCodeAt(k) === SPACE || text.charCodeAt(k) === TAB)) k--;
  if (k < from || text.charCodeAt(k) !== escape) return -1;
  return k > from && text.charCodeAt(k - 1) === escape ? -1 : k;
}

/** Whether text[i] is a space; ordinary characters are told apart without a call. */
function isSpaceAt(text: string, i: number): boolean {
  const c = text.charCodeAt(i);
  return (c <= SPACE || c >= 0x85) && isSpace(c);
}

/** The first non-space at or after `from` (before `end`), or `end`. */
function skipSpace(text: string, from: number, end: number): number {
  let i = from;
  while (i < end && isSpaceAt(text, i)) i++;
  return i;
}

/** The first blank at or after `from`, or the end. */
function blankAt(text: string, from: number): number {
  BLANK.lastIndex = from;
  return BLANK.test(text) ? BLANK.lastIndex - 1 : text.length;
}

/**
 * The end of the word at `from`: the first space outside quotes. `escape` escapes the next
 * character, also inside '…' when `escapeInSingle`. A regular expression finds the first
 * space, quote or escape: most words hold no quote or escape.
 */
function wordEnd(text: string, from: number, escape: number, escapeInSingle: boolean): number {
  WORD_STOP.lastIndex = from;
  if (!WORD_STOP.test(text)) return text.length;
  let i = WORD_STOP.lastIndex - 1;
  let quote = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (quote === 0 && isSpace(c)) return i;
    if (quote === 0 && (c === QUOTE || c === APOSTROPHE)) quote = c;
    else if (c === quote) quote = 0;
    else if (c === escape && (quote !== APOSTROPHE || escapeInSingle)) i++;
    i++;
  }
  return text.length;
}

/**
 * BuildKit's extractBuilderFlags: the leading words that start with `--` (a bare `--` ends
 * them; quotes keep spaces inside a word; a backslash escapes the next character).
 */
function extractFlags(text: string, from: number): { flags: Flag[]; rest: number } {
  const flags: Flag[] = [];
  let i = from;
  for (;;) {
    while (i < text.length && isSpace(text.charCodeAt(i))) i++;
    if (text.charCodeAt(i) !== DASH || text.charCodeAt(i + 1) !== DASH) return { flags, rest: i };
    const start = i;
    i = wordEnd(text, i, BACKSLASH, true);
    if (i - start === 2) {
      while (i < text.length && isSpace(text.charCodeAt(i))) i++;
      return { flags, rest: i };
    }
    let eq = text.indexOf('=', start);
    if (eq >= i) eq = -1;
    flags.push({
      name: text.slice(start + 2, eq === -1 ? i : eq),
      range: { start, end: i },
      value: eq === -1 ? undefined : { start: eq + 1, end: i },
    });
  }
}

/** The text from `from` as a JSON array of strings (BuildKit's parseJSON), if it is one. */
function jsonArray(text: string, from: number): string[] | undefined {
  if (text.charCodeAt(from) !== 91 /* [ */) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text.slice(from));
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed)) return undefined;
  for (let i = 0; i < parsed.length; i++) if (typeof parsed[i] !== 'string') return undefined;
  return parsed as string[];
}

/**
 * BuildKit's parseWords (ARG, ENV): words at spaces; quotes keep spaces inside a word, the
 * escape character the next character (not inside '…'); both stay in the word.
 */
function shellWords(text: string, from: number, escape: number): Range[] {
  const words: Range[] = [];
  let i = from;
  while (i < text.length) {
    const end = wordEnd(text, i, escape, false);
    words.push({ start: i, end });
    i = end;
    while (i < text.length && isSpace(text.charCodeAt(i))) i++;
  }
  return words;
}

/**
 * The heredocs an instruction opens, in order. BuildKit reads them on RUN, COPY and ADD
 * (also under ONBUILD), not in JSON form, from the shell words of the whole logical line:
 * `<<NAME`, `<<-NAME`, `<<"NAME"`, `<<'NAME'`, optionally after a file descriptor.
 */
function heredocsOf(instruction: Instruction): Array<{ name: string; chomp: boolean }> {
  let text = instruction.text;
  let keyword = instruction.keyword;
  let rest = instruction.restStart();
  if (keyword === 'ONBUILD') {
    // parseSubCommand: the rest is an instruction of its own.
    text = text.slice(rest);
    const keywordEnd = blankAt(text, 0);
    keyword = text.slice(0, keywordEnd).toUpperCase();
    let argsStart = keywordEnd;
    while (argsStart < text.length && isBlank(text.charCodeAt(argsStart))) argsStart++;
    rest = extractFlags(text, argsStart).rest;
  }
  if (!HEREDOC_KEYWORDS.has(keyword) || jsonArray(text, rest) !== undefined) return [];
  const heredocs: Array<{ name: string; chomp: boolean }> = [];
  for (const word of lineWords(instruction.text)) {
    const match = HEREDOC_WORD.exec(word);
    if (match === null) continue;
    const name = unquote(match[2]!);
    if (name !== '') heredocs.push({ name, chomp: match[1] === '-' });
  }
  return heredocs;
}

/**
 * The words of a line as BuildKit's shell lexer splits them to find heredocs: at spaces
 * outside quotes, with `\` as escape whatever the escape directive, quotes and escapes
 * kept. `$` is read as any other character. A quote left open: no words, as BuildKit's
 * lexer then fails and finds no heredoc.
 */
function lineWords(text: string): string[] {
  const words: string[] = [];
  let i = 0;
  while (i < text.length) {
    while (i < text.length && isSpace(text.charCodeAt(i))) i++;
    if (i === text.length) break;
    const start = i;
    while (i < text.length && !isSpace(text.charCodeAt(i))) {
      const c = text.charCodeAt(i);
      if (c === APOSTROPHE) {
        i = text.indexOf("'", i + 1);
        if (i === -1) return [];
      } else if (c === QUOTE) {
        for (i++; i < text.length && text.charCodeAt(i) !== QUOTE; i++) {
          if (text.charCodeAt(i) === BACKSLASH) i++;
        }
        if (i >= text.length) return [];
      } else if (c === BACKSLASH) {
        i++;
      }
      i++;
    }
    words.push(text.slice(start, Math.min(i, text.length)));
  }
  return words;
}

/** A heredoc name with its quotes and backslash escapes removed, as BuildKit reads it. */
function unquote(word: string): string {
  let result = '';
  for (let i = 0; i < word.length; i++) {
    const ch = word[i]!;
    if (ch === "'") {
      const close = word.indexOf("'", i + 1);
      if (close === -1) return result + word.slice(i + 1);
      result += word.slice(i + 1, close);
      i = close;
    } else if (ch === '"') {
      for (i++; i < word.length && word[i] !== '"'; i++) {
        const next = word[i + 1];
        if (word[i] === '\\' && (next === '"' || next === '$' || next === '\\')) i++;
        result += word[i] ?? '';
      }
    } else if (ch === '\\') {
      i++;
      if (i < word.length) result += word[i];
    } else {
      result += ch;
    }
  }
  return result;
}
