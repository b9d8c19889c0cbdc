import dockerignore from '@balena/dockerignore';
import picomatch from 'picomatch';
import { UserError } from './errors.js';
import type { ImageGraph } from './graph.js';
import { ancestorFolders, relativeTo } from './paths.js';
import type { AffectReason, ChangeSet, ImageSpec } from './types.js';

/** Decides whether a path inside an image's build context reaches its build. */
export interface ContextFilter {
  includes(pathInContext: string): boolean;
}

// The package is CommonJS (`module.exports = factory`) but types itself as an ES default
// export; depending on the loader the factory is the import itself or its `default`.
const createIgnore = (dockerignore.default ?? dockerignore) as typeof dockerignore.default;

export const WHOLE_CONTEXT: ContextFilter = { includes: () => true };

/** A filter from a `.dockerignore` text, with Docker's own matching rules. */
export function dockerignoreFilter(text: string | undefined): ContextFilter {
  if (text === undefined) return WHOLE_CONTEXT;
  const matcher = createIgnore().add(text);
  return { includes: (path) => !matcher.ignores(path) };
}

/**
 * What of a context reaches the build: what `.dockerignore` lets in, narrowed to the paths
 * the Dockerfile reads (COPY/ADD sources, bind mounts) when it names them. Each source is a
 * file, a folder (everything under it) or a glob.
 */
export function contextFilter(
  dockerignoreText: string | undefined,
  sources?: readonly string[],
): ContextFilter {
  const ignored = dockerignoreFilter(dockerignoreText);
  if (sources === undefined) return ignored;
  const exact = new Set<string>();
  const globs: ((path: string) => boolean)[] = [];
  for (const source of sources) {
    if (picomatch.scan(source).isGlob) {
      const match = picomatch(source, { dot: true });
      const under = picomatch(`${source}/**`, { dot: true });
      globs.push((path) => match(path) || under(path));
    } else {
      exact.add(source);
    }
  }
  const read = (path: string): boolean => {
    if (exact.has(path)) return true;
    for (let end = path.lastIndexOf('/'); end > 0; end = path.lastIndexOf('/', end - 1)) {
      if (exact.has(path.slice(0, end))) return true;
    }
    return globs.some((glob) => glob(path));
  };
  return { includes: (path) => read(path) && ignored.includes(path) };
}

export interface AffectInput {
  images: readonly ImageSpec[];
  graph: ImageGraph;
  changes: ChangeSet;
  /** Per image: what of its context reaches the build (default: all of it). */
  filters?: ReadonlyMap<string, ContextFilter>;
  /** Global watch globs: a match affects every image. */
  globalWatch: readonly string[];
  /**
   * Files that are in a shared context but no image copies: the other images' Dockerfiles
   * and the config file. Without this, editing `Dockerfile.a` would rebuild `b` beside it.
   */
  notContent?: ReadonlySet<string>;
  /** Images whose resolved settings changed in the config file, or 'all' with a reason. */
  configChanges?: { images: ReadonlySet<string>; file: string } | { all: string; file: string };
  /** Images asked for by name: exactly these, nothing else. */
  requested?: readonly string[];
}

export interface Affected {
  /** Affected images in build order, with every reason (paths capped, see `morePaths`). */
  images: Map<string, AffectReason[]>;
  /** Count of further changed paths per image beyond the ones kept as reasons. */
  morePaths: Map<string, number>;
  /** Why each other image is not built. */
  unaffected: Map<string, string>;
}

/** Reasons kept per image: a plan with 10,000 changed paths stays readable. */
const MAX_PATH_REASONS = 5;

interface WatchEntry {
  image?: string;
  pattern: string;
  test: (path: string) => boolean;
}

/** Indexes watch globs under their static folder, so each changed path meets only its own. */
class WatchIndex {
  private readonly byFolder = new Map<string, WatchEntry[]>();
  private readonly exact = new Map<string, WatchEntry[]>();

  add(pattern: string, image?: string): void {
    const scan = picomatch.scan(pattern);
    if (!scan.isGlob) {
      // A plain path means that file, or everything under that folder.
      const path = pattern.replace(/\/+$/, '');
      const entry = { image, pattern, test: () => true };
      push(this.exact, path, entry);
      push(this.byFolder, path, entry);
      return;
    }
    const test = picomatch(pattern, { dot: true });
    push(this.byFolder, scan.base === '' ? '.' : scan.base, { image, pattern, test });
  }

  matches(path: string, folders: readonly string[]): WatchEntry[] {
    const found: WatchEntry[] = [];
    for (const entry of this.exact.get(path) ?? []) found.push(entry);
    for (const folder of folders) {
      for (const entry of this.byFolder.get(folder) ?? []) if (entry.test(path)) found.push(entry);
    }
    return found;
  }
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/** Maps changed paths to the images they affect, then adds every descendant. */
export function findAffected(input: AffectInput): Affected {
  const { images, graph, changes } = input;
  const names = new Set(images.map((image) => image.name));
  const reasons = new Map<string, AffectReason[]>();
  const morePaths = new Map<string, number>();
  const add = (name: string, reason: AffectReason): void => {
    const list = reasons.get(name) ?? [];
    if (!reasons.has(name)) reasons.set(name, list);
    const isPath =
      reason.kind === 'path' || reason.kind === 'watch' || reason.kind === 'global-watch';
    if (isPath && list.some((r) => 'path' in r && r.path === reason.path)) return;
    if (isPath && list.filter((r) => r.kind !== 'parent').length >= MAX_PATH_REASONS) {
      morePaths.set(name, (morePaths.get(name) ?? 0) + 1);
      return;
    }
    list.push(reason);
  };

  if (input.requested !== undefined) {
    const unknown = input.requested.filter((name) => !names.has(name));
    if (unknown.length > 0) {
      throw new UserError(
        `no image is named ${unknown.map((n) => `"${n}"`).join(', ')} (images: ${[...names].sort().join(', ')})`,
      );
    }
    for (const name of input.requested) add(name, { kind: 'requested' });
  } else if (changes.all) {
    for (const image of images) add(image.name, { kind: 'all', reason: changes.reason });
  } else {
    markChangedPaths(input, changes.paths, add);
    const config = input.configChanges;
    if (config && 'all' in config) {
      for (const image of images) add(image.name, { kind: 'all', reason: config.all });
    } else if (config) {
      for (const name of config.images)
        if (names.has(name)) add(name, { kind: 'config', path: config.file });
    }
  }

  const ordered = new Map<string, AffectReason[]>();
  if (input.requested === undefined) {
    for (const name of graph.order) {
      for (const parent of graph.parents.get(name) ?? []) {
        if (reasons.has(parent)) add(name, { kind: 'parent', parent });
      }
      const list = reasons.get(name);
      if (list) ordered.set(name, list);
    }
  } else {
    for (const name of graph.order) {
      const list = reasons.get(name);
      if (list) ordered.set(name, list);
    }
  }

  const unaffected = new Map<string, string>();
  for (const name of graph.order) {
    if (ordered.has(name)) continue;
    unaffected.set(
      name,
      input.requested !== undefined
        ? 'not requested'
        : 'no change in its context, Dockerfile or watch paths',
    );
  }
  return { images: ordered, morePaths, unaffected };
}

function markChangedPaths(
  input: AffectInput,
  paths: readonly string[],
  add: (name: string, reason: AffectReason) => void,
): void {
  const byContext = new Map<string, ImageSpec[]>();
  const byOwnFile = new Map<string, ImageSpec[]>();
  const watches = new WatchIndex();
  for (const image of input.images) {
    push(byContext, image.context, image);
    // The Dockerfile and ignore files shape the build wherever they live, even when
    // .dockerignore lists them.
    const own = [image.source, `${image.context === '.' ? '' : `${image.context}/`}.dockerignore`];
    if (image.dockerfile !== undefined)
      own.push(image.dockerfile, `${image.dockerfile}.dockerignore`);
    for (const file of new Set(own)) push(byOwnFile, file, image);
    for (const pattern of image.watch) watches.add(pattern, image.name);
  }
  for (const pattern of input.globalWatch) watches.add(pattern);
  const configFile = input.configChanges?.file;

  for (const path of paths) {
    if (path === configFile) continue;
    const folders = ancestorFolders(path);
    for (const image of byOwnFile.get(path) ?? []) add(image.name, { kind: 'path', path });
    if (!input.notContent?.has(path)) {
      for (const folder of folders) {
        for (const image of byContext.get(folder) ?? []) {
          const inside = relativeTo(folder, path) as string;
          const filter = input.filters?.get(image.name) ?? WHOLE_CONTEXT;
          if (filter.includes(inside)) add(image.name, { kind: 'path', path });
        }
      }
    }
    for (const entry of watches.matches(path, folders)) {
      if (entry.image !== undefined) {
        add(entry.image, { kind: 'watch', path, pattern: entry.pattern });
      } else {
        for (const image of input.images)
          add(image.name, { kind: 'global-watch', path, pattern: entry.pattern });
      }
    }
  }
}

/** One line per reason, as the plan and summary show them. */
export function describeReason(reason: AffectReason): string {
  switch (reason.kind) {
    case 'path':
      return `changed ${reason.path}`;
    case 'watch':
      return `changed ${reason.path} (watch ${reason.pattern})`;
    case 'global-watch':
      return `changed ${reason.path} (global watch ${reason.pattern})`;
    case 'config':
      return `its settings changed in ${reason.path}`;
    case 'parent':
      return `parent ${reason.parent} is rebuilt`;
    case 'all':
      return reason.reason;
    case 'requested':
      return 'requested by name';
  }
}

/**
 * Images whose resolved settings differ between two readings of the config file: only
 * those are rebuilt for a config change, not every image. An image new in `after` counts.
 */
export function imagesWithChangedSettings(
  before: readonly ImageSpec[],
  after: readonly ImageSpec[],
): Set<string> {
  const old = new Map(before.map((image) => [image.name, JSON.stringify(image)]));
  const changed = new Set<string>();
  for (const image of after)
    if (old.get(image.name) !== JSON.stringify(image)) changed.add(image.name);
  return changed;
}
