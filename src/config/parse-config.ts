// image-builder.yml text -> the one frozen Config. Pure: the caller reads the file.
//
// Three passes, each ending in at most one ConfigError that points at a line:
//   1. YAML syntax (the `yaml` package keeps node ranges, so every later error has a place),
//   2. the published JSON Schema (schema/image-builder.schema.json, the single source of the
//      allowed keys and value shapes; editors validate against the same file),
//   3. what a schema cannot say (an image depending on itself).
// Then kebab-case keys become the camelCase Config, defaults filled in, deep-frozen.

import { posix } from 'node:path';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import {
  LineCounter,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  parseDocument,
  visit,
  type Document,
  type YAMLError,
} from 'yaml';
import schema from '../../schema/image-builder.schema.json' with { type: 'json' };
import { ConfigError } from '../core/errors.js';
import type {
  BuilderName,
  CacheMode,
  Config,
  DiscoveryPattern,
  ImageConfig,
  PublishMode,
  SourcePosition,
  TestConfig,
  VariantConfig,
} from '../core/types.js';
import {
  DEFAULT_BUILDER,
  DEFAULT_CACHE,
  DEFAULT_DISCOVERY,
  DEFAULT_PUBLISH_MODE,
  DEFAULT_REPOSITORY_TEMPLATE,
  DEFAULT_SHA_SHORT_LENGTH,
  DEFAULT_TAGS,
  DEFAULT_TEST_TIMEOUT_SECONDS,
  deepFreeze,
} from './defaults.js';

/**
 * Keywords the schema uses for its error texts. VS Code's JSON and YAML language servers
 * show them instead of their generic messages; ajv must be told they are annotations.
 */
export const SCHEMA_MESSAGE_KEYWORDS: readonly string[] = ['errorMessage', 'patternErrorMessage'];

/** The file as written, after schema validation: kebab-case keys, nothing filled in. */
interface RawConfig {
  registry?: string;
  repository?: string;
  channel?: string;
  prefix?: string;
  builder?: BuilderName;
  tags?: string[];
  'sha-short-length'?: number;
  'default-branch'?: string;
  'max-parallel'?: number;
  discovery?: (string | RawDiscovery)[];
  watch?: string[];
  exclude?: string[];
  'build-args'?: Record<string, string>;
  images?: Record<string, RawImage | null>;
  registries?: Record<string, { insecure?: boolean }>;
  ecr?: {
    'create-repositories'?: boolean;
    'scan-on-push'?: boolean;
    'tag-mutability'?: 'MUTABLE' | 'IMMUTABLE';
    'lifecycle-policy'?: string;
  };
  cache?: CacheMode;
  buildx?: { provenance?: boolean | string; sbom?: boolean | string };
  kaniko?: { executor?: string };
  pack?: { builder?: string; 'lifecycle-version'?: string; env?: Record<string, string> };
  publish?: { 'staging-tag'?: string; mode?: PublishMode };
  variants?: Record<string, RawVariant | null>;
}

interface RawDiscovery {
  pattern: string;
  context?: string;
  kind?: DiscoveryPattern['kind'];
}

interface RawImage {
  context?: string;
  dockerfile?: string;
  target?: string;
  'build-args'?: Record<string, string>;
  platforms?: string[];
  'depends-on'?: string[];
  watch?: string[];
  builder?: BuilderName;
  repository?: string;
  tags?: string[];
  test?: { run?: string; command?: string; timeout?: number };
  variants?: Record<string, RawVariant | null>;
}

interface RawVariant {
  target?: string;
  'build-args'?: Record<string, string>;
  'tag-suffix'?: string;
}

/**
 * Parses and validates the text of image-builder.yml. `file` is the repo-relative path used
 * in messages and positions. An empty file (or only comments) gives the defaults.
 * Throws ConfigError, with file, line and column, for the first mistake in the file.
 */
export function parseConfig(text: string, file: string): Config {
  const source = new YamlSource(text, file);
  const data = source.data;
  if (data === null) return convert({}, source);

  const validate = configValidator();
  if (!validate(data)) throw source.schemaError(validate.errors ?? []);
  const raw = data as RawConfig;
  checkSemantics(raw, source);
  return convert(raw, source);
}

let compiled: ValidateFunction | undefined;

function configValidator(): ValidateFunction {
  if (!compiled) {
    // allErrors: every mistake is collected so the earliest in the file can be reported,
    // whatever order the schema checks them in. verbose: errors carry their schema, which
    // holds the human wording (errorMessage, patternErrorMessage).
    const ajv = new Ajv2020({ allErrors: true, verbose: true, strict: true });
    for (const keyword of SCHEMA_MESSAGE_KEYWORDS)
      ajv.addKeyword({ keyword, schemaType: 'string' });
    compiled = ajv.compile(schema);
  }
  return compiled;
}

type PathSegment = string | number;

interface Issue {
  message: string;
  line: number;
  column: number;
  /** Tie-break at one place: lower first (a wrong type explains everything else there). */
  rank: number;
}

/** The parsed document with the means to turn a data path into a line. */
class YamlSource {
  readonly file: string;
  /** The plain data, or null for an empty document. */
  readonly data: unknown;
  private readonly text: string;
  private readonly doc: Document.Parsed;
  private readonly lines: LineCounter;

  constructor(text: string, file: string) {
    this.text = text;
    this.file = file;
    this.lines = new LineCounter();
    this.doc = parseDocument(text, {
      lineCounter: this.lines,
      prettyErrors: false,
      // `<<: *defaults` lets several images share settings; YAML 1.2 leaves it off by default.
      merge: true,
      uniqueKeys: true,
    });
    // Warnings (an unknown !tag, say) would leave a value other than what was written.
    const problems = [...this.doc.errors, ...this.doc.warnings];
    if (problems.length > 0) {
      const first = problems.reduce((a, b) => (b.pos[0] < a.pos[0] ? b : a));
      throw this.yamlError(first);
    }
    const contents = this.doc.contents;
    if (contents === null || (isScalar(contents) && contents.value === null)) {
      this.data = null;
      return;
    }
    try {
      this.data = this.doc.toJS({ maxAliasCount: 100 });
    } catch (error) {
      throw new ConfigError(
        `invalid YAML: ${lowerFirst((error as Error).message)}`,
        this.position(this.unresolvedAlias() ?? 0),
      );
    }
  }

  position(offset: number): SourcePosition {
    const { line, col } = this.lines.linePos(offset);
    return { file: this.file, line, column: col };
  }

  error(issue: Issue): ConfigError {
    return new ConfigError(issue.message, {
      file: this.file,
      line: issue.line,
      column: issue.column,
    });
  }

  /** The earliest issue in the file, so a fix-and-rerun loop walks down the file. */
  first(issues: Issue[]): ConfigError {
    const sorted = [...issues].sort(
      (a, b) => a.line - b.line || a.rank - b.rank || a.column - b.column,
    );
    const first = sorted[0];
    if (!first) return new ConfigError('invalid configuration', { file: this.file });
    return this.error(first);
  }

  private yamlError(problem: YAMLError): ConfigError {
    const [start, end] = problem.pos;
    const written = this.text.slice(start, end);
    let message: string;
    switch (problem.code) {
      case 'DUPLICATE_KEY':
        message = `duplicate key "${this.keyAt(start) ?? written}": each key may appear once in a mapping`;
        break;
      case 'TAB_AS_INDENT':
        message = 'a tab is used for indentation: YAML allows only spaces';
        break;
      case 'MULTIPLE_DOCS':
        message = 'the file holds more than one YAML document (a second "---"): keep one';
        break;
      default:
        message = `invalid YAML: ${lowerFirst(problem.message)}`;
    }
    return new ConfigError(message, this.position(start));
  }

  /** The text of the mapping key that starts at `offset`, if one does. */
  private keyAt(offset: number): string | undefined {
    let found: string | undefined;
    visit(this.doc, {
      Pair: (_, pair) => {
        if (rangeStart(pair.key) !== offset) return undefined;
        found = keyText(pair.key);
        return visit.BREAK;
      },
    });
    return found;
  }

  /** Where the first alias without an anchor before it is. */
  private unresolvedAlias(): number | undefined {
    let found: number | undefined;
    visit(this.doc, {
      Alias: (_, alias) => {
        if (alias.resolve(this.doc) !== undefined) return undefined;
        found = rangeStart(alias);
        return visit.BREAK;
      },
    });
    return found;
  }

  /** The node at `path` and the key it sits under; stops at the deepest node that exists. */
  private walk(path: readonly PathSegment[]): { node: unknown; key: unknown; found: boolean } {
    let node: unknown = this.doc.contents;
    let key: unknown;
    for (const segment of path) {
      if (isAlias(node)) node = node.resolve(this.doc);
      // A key brought in by a `<<` merge has no pair of its own here: its parent stands in.
      const pair = isMap(node)
        ? node.items.find((item) => keyText(item.key) === String(segment))
        : undefined;
      const item = isSeq(node) ? node.items[Number(segment)] : undefined;
      if (pair) [key, node] = [pair.key, pair.value];
      else if (item !== undefined) [key, node] = [undefined, item];
      else return { node, key, found: false };
    }
    if (isAlias(node)) node = node.resolve(this.doc);
    return { node, key, found: true };
  }

  /** Where the value at `path` is written: `key` = the line of its key, `value` = the value. */
  locate(path: readonly PathSegment[], where: 'key' | 'value'): { line: number; column: number } {
    const { node, key } = this.walk(path);
    // A block collection starts on the line after its key, and an empty value has no text:
    // the key's line is where the reader looks.
    const scalarValue = isScalar(node) && node.value !== null;
    const chosen = where === 'value' && scalarValue ? node : (key ?? node);
    const { line, col } = this.lines.linePos(rangeStart(chosen) ?? rangeStart(node) ?? 0);
    return { line, column: col };
  }

  /** The text of the scalar at `path` as written (1.10, not 1.1), when there is one. */
  private written(path: readonly PathSegment[]): string | undefined {
    const { node, found } = this.walk(path);
    if (!found || !isScalar(node) || !node.range) return undefined;
    return this.text.slice(node.range[0], node.range[1]);
  }

  schemaError(errors: ErrorObject[]): ConfigError {
    const issues = errors
      // `if` only says a then/else branch failed, `propertyNames` only that a name did:
      // the errors inside say which and why. Errors inside oneOf branches are
      // summarised by the oneOf error itself, which on a value that is not a mapping
      // adds nothing to the type error there.
      .filter((error) => error.keyword !== 'if' && error.keyword !== 'propertyNames')
      .filter((error) => !/\/oneOf\/\d+\//.test(error.schemaPath))
      .filter((error) => error.keyword !== 'oneOf' || isObject(error.data))
      .map((error): Issue => {
        const { message, path, where, rank = 1 } = this.explain(error);
        return { message, ...this.locate(path, where), rank };
      });
    return this.first(issues);
  }

  /** One ajv error in the user's words, and which node it is about. */
  private explain(error: ErrorObject): {
    message: string;
    path: PathSegment[];
    where: 'key' | 'value';
    rank?: number;
  } {
    const path: PathSegment[] = decodePointer(error.instancePath);
    const name = formatPath(path, this.data);
    const prefix = name === '' ? '' : `${name}: `;
    const parent = (error.parentSchema ?? {}) as SchemaNode;
    const expected = parent.errorMessage ?? `expected a value that ${error.message ?? 'is valid'}`;
    const data: unknown = error.data;

    switch (error.keyword) {
      case 'additionalProperties': {
        const key = String(error.params.additionalProperty);
        const allowed = Object.keys(parent.properties ?? {});
        const value = isObject(data) ? data[key] : undefined;
        return {
          message: unknownKeyMessage(key, name, allowed, path.length === 0, value),
          path: [...path, key],
          where: 'key',
        };
      }
      case 'type':
        return {
          message: `${prefix}${expected}, got ${this.describeValue(path, data)}${this.quoteHint(path, parent, data)}`,
          path,
          where: 'value',
          rank: 0,
        };
      case 'pattern': {
        const text = parent.patternErrorMessage ?? expected;
        if (error.propertyName === undefined) {
          return { message: `${prefix}${text}, got ${show(data)}`, path, where: 'value' };
        }
        return {
          message: `${prefix}invalid name "${error.propertyName}": ${text}`,
          path: [...path, error.propertyName],
          where: 'key',
        };
      }
      case 'enum': {
        const options = (parent.enum ?? []).map(String);
        const guess = typeof data === 'string' ? closest(data, options) : undefined;
        const hint = guess ? ` (did you mean "${guess}"?)` : '';
        return { message: `${prefix}${expected}, got ${show(data)}${hint}`, path, where: 'value' };
      }
      case 'uniqueItems': {
        const { i, j } = error.params as { i: number; j: number };
        const later = Math.max(i, j);
        const item = Array.isArray(data) ? (data as unknown[])[later] : undefined;
        return {
          message: `${prefix}${show(item)} is listed twice`,
          path: [...path, later],
          where: 'value',
        };
      }
      case 'required':
        return {
          message: `${prefix}missing key "${String(error.params.missingProperty)}": ${expected}`,
          path,
          where: 'key',
        };
      case 'maxLength': {
        const limit = Number(error.params.limit);
        const length = typeof data === 'string' ? [...data].length : 0;
        return {
          message: `${prefix}at most ${limit} characters, got ${length}: ${show(data)}`,
          path,
          where: 'value',
          rank: 0,
        };
      }
      case 'oneOf': {
        // The schema's only oneOf is "exactly one of these keys" (test: run | command).
        const keys = (parent.oneOf ?? []).flatMap((branch) => branch.required ?? []);
        const present = keys.filter((key) => isObject(data) && key in data);
        const got = present.length === 0 ? 'got neither' : `got both ${present.join(' and ')}`;
        return { message: `${prefix}${expected}, ${got}`, path, where: 'key' };
      }
      default:
        // minimum, maximum, minItems, minLength…: the schema's wording states the range.
        return {
          message: `${prefix}${expected}, got ${this.describeValue(path, data)}`,
          path,
          where: 'value',
        };
    }
  }

  private describeValue(path: readonly PathSegment[], value: unknown): string {
    if (value === null || value === undefined) return 'nothing (an empty value)';
    if (Array.isArray(value)) return value.length === 0 ? 'an empty list' : 'a list';
    switch (typeof value) {
      case 'string':
        return value === '' ? 'an empty string' : `a string (${show(value)})`;
      case 'number': {
        const written = this.written(path) ?? String(value);
        // The classic trap: VERSION: 1.10 is the number 1.1.
        return Number(written) === value && written !== String(value)
          ? `the number ${written}, which YAML reads as ${String(value)}`
          : `the number ${written}`;
      }
      case 'boolean':
        return `the boolean ${this.written(path) ?? String(value)}`;
      case 'object':
        return Object.keys(value).length === 0 ? 'an empty mapping' : 'a mapping';
      default:
        return typeof value;
    }
  }

  /** Where a string is wanted and YAML made a number or boolean: show the quoted form. */
  private quoteHint(path: readonly PathSegment[], parent: SchemaNode, value: unknown): string {
    if (parent.type !== 'string') return '';
    if (typeof value !== 'number' && typeof value !== 'boolean') return '';
    const written = this.written(path) ?? String(value);
    return `; quote it to keep it as text: "${written}"`;
  }
}

/** The part of a JSON Schema the messages read. */
interface SchemaNode {
  type?: string | string[];
  enum?: unknown[];
  properties?: Record<string, unknown>;
  oneOf?: { required?: string[] }[];
  errorMessage?: string;
  patternErrorMessage?: string;
}

function checkSemantics(raw: RawConfig, source: YamlSource): void {
  const issues: Issue[] = [];
  for (const [name, image] of Object.entries(raw.images ?? {})) {
    const dependsOn = image?.['depends-on'] ?? [];
    dependsOn.forEach((parent, index) => {
      if (parent !== name) return;
      const path = ['images', name, 'depends-on', index];
      issues.push({
        message: `${formatPath(path, raw)}: image "${name}" cannot depend on itself`,
        ...source.locate(path, 'value'),
        rank: 1,
      });
    });
  }
  if (issues.length > 0) throw source.first(issues);
}

function convert(raw: RawConfig, source: YamlSource): Config {
  const channel = raw.channel ?? '';
  const config: Config = {
    file: source.file,
    registry: raw.registry ?? '',
    repository: raw.repository ?? DEFAULT_REPOSITORY_TEMPLATE,
    channel,
    // `user` is resolved by the caller, who knows the CI user; its prefix comes from there.
    prefix: raw.prefix ?? (channel === '' || channel === 'user' ? '' : `${channel}-`),
    builder: raw.builder ?? DEFAULT_BUILDER,
    tags: raw.tags ? [...raw.tags] : [...DEFAULT_TAGS],
    shaShortLength: raw['sha-short-length'] ?? DEFAULT_SHA_SHORT_LENGTH,
    discovery: raw.discovery
      ? raw.discovery.map(convertDiscovery)
      : DEFAULT_DISCOVERY.map((entry) => ({ ...entry })),
    watch: (raw.watch ?? []).map(normalizeGlob),
    exclude: (raw.exclude ?? []).map(normalizeGlob),
    buildArgs: copyRecord(raw['build-args'] ?? {}),
    ecr: {
      createRepositories: raw.ecr?.['create-repositories'] ?? false,
      scanOnPush: raw.ecr?.['scan-on-push'] ?? true,
      ...(raw.ecr?.['tag-mutability'] !== undefined
        ? { tagMutability: raw.ecr['tag-mutability'] }
        : {}),
      ...(raw.ecr?.['lifecycle-policy'] !== undefined
        ? { lifecyclePolicy: raw.ecr['lifecycle-policy'] }
        : {}),
    },
    cache: raw.cache ?? DEFAULT_CACHE,
    buildx: {
      ...(raw.buildx?.provenance !== undefined
        ? { provenance: String(raw.buildx.provenance) }
        : {}),
      ...(raw.buildx?.sbom !== undefined ? { sbom: String(raw.buildx.sbom) } : {}),
    },
    kaniko: raw.kaniko?.executor !== undefined ? { executor: raw.kaniko.executor } : {},
    pack: {
      ...(raw.pack?.builder !== undefined ? { builder: raw.pack.builder } : {}),
      ...(raw.pack?.['lifecycle-version'] !== undefined
        ? { lifecycleVersion: raw.pack['lifecycle-version'] }
        : {}),
      env: copyRecord(raw.pack?.env ?? {}),
    },
    publish: {
      ...(raw.publish?.['staging-tag'] !== undefined
        ? { stagingTag: raw.publish['staging-tag'] }
        : {}),
      mode: raw.publish?.mode ?? DEFAULT_PUBLISH_MODE,
    },
    registries: Object.fromEntries(
      Object.entries(raw.registries ?? {}).map(([host, settings]) => [
        host,
        { insecure: settings.insecure ?? false },
      ]),
    ),
    variants: convertVariants(raw.variants ?? {}),
    images: Object.fromEntries(
      Object.entries(raw.images ?? {}).map(([name, image]) => [
        name,
        convertImage(image ?? {}, imagePosition(source, name)),
      ]),
    ),
  };
  if (raw['default-branch'] !== undefined) config.defaultBranch = raw['default-branch'];
  if (raw['max-parallel'] !== undefined) config.maxParallel = raw['max-parallel'];
  return deepFreeze(config);
}

function imagePosition(source: YamlSource, name: string): SourcePosition {
  return { file: source.file, ...source.locate(['images', name], 'key') };
}

function convertDiscovery(entry: string | RawDiscovery): DiscoveryPattern {
  const { pattern, context, kind } = typeof entry === 'string' ? { pattern: entry } : entry;
  const result: DiscoveryPattern = {
    pattern: normalizeGlob(pattern),
    kind: kind ?? (posix.basename(pattern) === 'project.toml' ? 'buildpacks' : 'dockerfile'),
  };
  if (context !== undefined) result.context = normalizePath(context);
  return result;
}

function convertImage(raw: RawImage, position: SourcePosition): ImageConfig {
  const image: ImageConfig = {};
  if (raw.context !== undefined) image.context = normalizePath(raw.context);
  if (raw.dockerfile !== undefined) image.dockerfile = normalizePath(raw.dockerfile);
  if (raw.target !== undefined) image.target = raw.target;
  if (raw['build-args'] !== undefined) image.buildArgs = copyRecord(raw['build-args']);
  if (raw.platforms !== undefined) image.platforms = [...raw.platforms];
  if (raw['depends-on'] !== undefined) image.dependsOn = [...raw['depends-on']];
  if (raw.watch !== undefined) image.watch = raw.watch.map(normalizeGlob);
  if (raw.variants !== undefined) {
    image.variants = convertVariants(raw.variants);
  }
  if (raw.test !== undefined) image.test = convertTest(raw.test);
  if (raw.builder !== undefined) image.builder = raw.builder;
  if (raw.repository !== undefined) image.repository = raw.repository;
  if (raw.tags !== undefined) image.tags = [...raw.tags];
  image.position = position;
  return image;
}

function convertVariants(raw: Record<string, RawVariant | null>): Record<string, VariantConfig> {
  return Object.fromEntries(
    Object.entries(raw).map(([name, variant]) => [name, convertVariant(variant ?? {})]),
  );
}

function convertVariant(raw: RawVariant): VariantConfig {
  const variant: VariantConfig = { buildArgs: copyRecord(raw['build-args'] ?? {}) };
  if (raw.target !== undefined) variant.target = raw.target;
  if (raw['tag-suffix'] !== undefined) variant.tagSuffix = raw['tag-suffix'];
  return variant;
}

function convertTest(raw: NonNullable<RawImage['test']>): TestConfig {
  const test: TestConfig = { timeoutSeconds: raw.timeout ?? DEFAULT_TEST_TIMEOUT_SECONDS };
  if (raw.run !== undefined) test.run = raw.run;
  if (raw.command !== undefined) test.command = raw.command;
  return test;
}

/** fromEntries defines own properties, so a build-arg named __proto__ stays a build-arg. */
function copyRecord(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(record));
}

/** `./images/api/` -> `images/api`; `./` -> `.`. The schema already refused `..` and `/x`. */
function normalizePath(path: string): string {
  const normalized = posix.normalize(path);
  return normalized.length > 1 && normalized.endsWith('/') ? normalized.slice(0, -1) : normalized;
}

/** Globs keep their shape; only a leading `./` goes, as git's paths never have one. */
function normalizeGlob(glob: string): string {
  const stripped = glob.replace(/^(\.\/)+/, '');
  return stripped === '' ? glob : stripped;
}

function unknownKeyMessage(
  name: string,
  where: string,
  allowed: string[],
  topLevel: boolean,
  value: unknown,
): string {
  const place = topLevel ? 'at the top level' : `in ${where}`;
  const guess = closest(name, allowed);
  const hints: string[] = [];
  if (guess) hints.push(`did you mean "${guess}"?`);
  else if (topLevel && (value === null || isObject(value))) {
    // `api:` with settings at the top level: the images: level was forgotten.
    hints.push(`image settings go under images:`);
  }
  hints.push(`allowed: ${allowed.join(', ')}`);
  return `unknown key "${name}" ${place} (${hints.join('; ')})`;
}

/** The allowed word a typo most likely meant: `tgas` -> `tags`, `dependsOn` -> `depends-on`. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const squash = (text: string) => text.toLowerCase().replace(/[-_]/g, '');
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance =
      squash(candidate) === squash(word) ? 0 : editDistance(word.toLowerCase(), candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  const limit = Math.max(1, Math.floor(word.length / 3));
  if (bestDistance <= limit) return best;
  // `timeout-seconds` for `timeout`: a longer spelling of an allowed key.
  const squashed = squash(word);
  return candidates.find((candidate) => {
    const other = squash(candidate);
    return other.length >= 4 && (squashed.startsWith(other) || other.startsWith(squashed));
  });
}

/** Optimal string alignment distance: Levenshtein plus adjacent transpositions. */
function editDistance(a: string, b: string): number {
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  const at = (i: number, j: number): number => rows[i]?.[j] ?? Infinity;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let distance = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        distance = Math.min(distance, at(i - 2, j - 2) + 1);
      }
      (rows[i] as number[])[j] = distance;
    }
  }
  return at(a.length, b.length);
}

function decodePointer(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** `images.api.platforms`, `discovery[1].pattern`, `images["my.app"]`. */
function formatPath(path: readonly PathSegment[], data: unknown): string {
  let text = '';
  let node: unknown = data;
  for (const segment of path) {
    if (Array.isArray(node)) {
      text += `[${segment}]`;
      node = node[Number(segment)];
      continue;
    }
    const key = String(segment);
    text += /^[A-Za-z0-9_-]+$/.test(key)
      ? `${text === '' ? '' : '.'}${key}`
      : `[${JSON.stringify(key)}]`;
    node =
      node !== null && typeof node === 'object'
        ? (node as Record<string, unknown>)[key]
        : undefined;
  }
  return text;
}

function show(value: unknown): string {
  if (typeof value === 'string') {
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  }
  if (value === null || value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return String(value);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function keyText(key: unknown): string {
  return isScalar(key) ? String(key.value) : String(key);
}

function rangeStart(node: unknown): number | undefined {
  if (node === null || typeof node !== 'object' || !('range' in node)) return undefined;
  const range = (node as { range?: [number, number, number] }).range;
  return range?.[0];
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}
