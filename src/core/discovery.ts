import picomatch from 'picomatch';
import { ConfigError, NameError } from './errors.js';
import { basename, dirname, joinRelative, normaliseRelative } from './paths.js';
import type { Config, DiscoveryPattern, ImageConfig, ImageSpec } from './types.js';

/** An image found by a convention, before config and naming are applied. */
export interface FoundImage {
  name: string;
  kind: 'dockerfile' | 'buildpacks';
  source: string;
  context: string;
}

interface CompiledPattern {
  pattern: DiscoveryPattern;
  /** The image name comes from the file name (`Dockerfile.{name}`), not from a folder. */
  nameInFileName: boolean;
  /** Tests only the file name, so most of a large listing is rejected cheaply. */
  last: RegExp;
  full: RegExp;
}

// Suffixes of `Dockerfile.<x>` files that are not images: BuildKit's per-Dockerfile ignore
// files, templates rendered by other tools, editor and merge leftovers.
const NOT_IMAGE_SUFFIXES = new Set([
  'dockerignore',
  'j2',
  'jinja',
  'jinja2',
  'tmpl',
  'tpl',
  'template',
  'in',
  'bak',
  'orig',
  'rej',
  'swp',
  'md',
  'txt',
]);

const ALWAYS_EXCLUDED = ['**/node_modules/**', '**/.git/**'];

function escapeRegExp(text: string): string {
  return text.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
}

function segmentToRegExp(segment: string): string {
  if (segment === '**') return '(?:[^/]+/)*';
  let out = '';
  const parts = segment.split('{name}');
  parts.forEach((part, index) => {
    out += part.split('*').map(escapeRegExp).join('[^/]*');
    if (index < parts.length - 1) out += '([^/]+?)';
  });
  return out;
}

function compilePattern(pattern: DiscoveryPattern): CompiledPattern {
  const segments = pattern.pattern.split('/');
  let full = '';
  segments.forEach((segment, index) => {
    const last = index === segments.length - 1;
    full += segmentToRegExp(segment);
    if (!last && segment !== '**') full += '/';
  });
  return {
    pattern,
    nameInFileName: (segments[segments.length - 1] ?? '').includes('{name}'),
    last: new RegExp(`^${segmentToRegExp(segments[segments.length - 1] ?? '')}$`),
    full: new RegExp(`^${full}$`),
  };
}

/**
 * A cheap first test of a path's file name: every pattern's last segment has a literal part
 * (`Dockerfile`, `project.toml`) that the name must contain. Most files of a large
 * repository fail it without meeting a regular expression.
 */
function fileNameHint(patterns: readonly CompiledPattern[]): (name: string) => boolean {
  const literals = patterns.map((compiled) => {
    const last = compiled.pattern.pattern.slice(compiled.pattern.pattern.lastIndexOf('/') + 1);
    return last
      .split(/\*|\{name\}/)
      .reduce((longest, part) => (part.length > longest.length ? part : longest), '');
  });
  if (literals.includes('')) return () => true;
  // `Dockerfile.` contains `Dockerfile`: testing the shorter one covers both.
  const needed = [...new Set(literals)]
    .sort((a, b) => a.length - b.length)
    .filter(
      (literal, index, sorted) =>
        !sorted.slice(0, index).some((shorter) => literal.includes(shorter)),
    );
  return (path) => {
    const nameStart = path.lastIndexOf('/') + 1;
    return needed.some((literal) => path.includes(literal, nameStart));
  };
}

/**
 * Image names come from folder and file names, which may hold characters a repository name
 * cannot: lowercase them and turn each run of other characters into one `-`.
 */
export function imageNameFrom(raw: string): string {
  return raw
    .toLowerCase()
    .replace(/[^a-z0-9._]+/g, '-')
    .replace(/^[-._]+|[-._]+$/g, '');
}

/** Finds images in a repository listing by the discovery conventions, first matching pattern first. */
export function findImages(files: readonly string[], config: Config): FoundImage[] {
  const patterns = config.discovery.map(compilePattern);
  const mayMatch = fileNameHint(patterns);
  const isExcluded = picomatch([...ALWAYS_EXCLUDED, ...config.exclude], { dot: true });
  const byName = new Map<string, FoundImage>();
  const found: FoundImage[] = [];

  for (const file of files) {
    if (!mayMatch(file)) continue;
    const name = basename(file);
    for (const compiled of patterns) {
      if (!compiled.last.test(name)) continue;
      const match = compiled.full.exec(file);
      if (!match) continue;
      const raw = match[1] ?? '';
      if (
        compiled.nameInFileName &&
        NOT_IMAGE_SUFFIXES.has(raw.slice(raw.lastIndexOf('.') + 1).toLowerCase())
      )
        break;
      if (isExcluded(file)) break;
      const imageName = imageNameFrom(raw);
      if (imageName === '') break;
      const image: FoundImage = {
        name: imageName,
        kind: compiled.pattern.kind,
        source: file,
        context:
          compiled.pattern.context !== undefined
            ? (normaliseRelative(compiled.pattern.context) ?? '.')
            : dirname(file),
      };
      const earlier = byName.get(imageName);
      if (earlier) {
        // A folder with a Dockerfile and a project.toml is one image, built from the Dockerfile.
        if (earlier.context === image.context && earlier.kind !== image.kind) {
          if (image.kind === 'dockerfile') {
            found[found.indexOf(earlier)] = image;
            byName.set(imageName, image);
          }
          break;
        }
        throw new NameError(
          `two images are named "${imageName}": ${earlier.source} and ${image.source}; ` +
            'rename one, or set discovery patterns or exclude in image-builder.yml',
        );
      }
      byName.set(imageName, image);
      found.push(image);
      break;
    }
  }
  return found;
}

/** Fills in a repository naming template; an empty registry leaves no leading slash. */
export function repositoryName(
  template: string,
  registry: string,
  prefix: string,
  image: string,
): string {
  return template
    .replaceAll('{registry}', registry)
    .replaceAll('{prefix}', prefix)
    .replaceAll('{image}', image)
    .replace(/\/{2,}/g, '/')
    .replace(/^\/+|\/+$/g, '');
}

export interface ResolveOptions {
  /** Registry after aliases like `ecr` were resolved. */
  registry: string;
  /** Repository prefix after the channel was resolved. */
  prefix: string;
  /** The repository listing, to check that configured paths exist. */
  files: FileIndex;
}

/**
 * Answers "does this file or folder exist" about a listing. The sets are built on the first
 * question: most plans ask none (discovered paths exist by construction).
 */
export class FileIndex {
  private fileSet?: Set<string>;
  private folderSet?: Set<string>;

  constructor(readonly files: readonly string[]) {}

  hasFile(path: string): boolean {
    this.fileSet ??= new Set(this.files);
    return this.fileSet.has(path);
  }

  /** A folder of the listing, or a listed entry that may be a symlink to one (checked on disk later). */
  hasFolder(path: string): boolean {
    this.folderSet ??= foldersOf(this.files);
    return this.folderSet.has(path) || this.hasFile(path);
  }
}

/** Every folder that holds a file of the listing, '.' included. */
export function foldersOf(files: Iterable<string>): Set<string> {
  const folders = new Set<string>(['.']);
  for (const file of files) {
    let end = file.lastIndexOf('/');
    while (end > 0) {
      const folder = file.slice(0, end);
      if (folders.has(folder)) break;
      folders.add(folder);
      end = file.lastIndexOf('/', end - 1);
    }
  }
  return folders;
}

function configuredPath(
  value: string,
  what: string,
  imageName: string,
  entry: ImageConfig,
): string {
  const path = normaliseRelative(value);
  if (path === undefined) {
    throw new ConfigError(
      `images.${imageName}.${what}: "${value}" leaves the repository`,
      entry.position,
    );
  }
  return path;
}

/** `{registry}` and `{prefix}` in build-arg values, so Dockerfiles can name parents wherever they are pushed. */
function expandBuildArgs(
  args: Record<string, string>,
  options: ResolveOptions,
): Record<string, string> {
  return Object.fromEntries(
    Object.entries(args).map(([name, value]) => [
      name,
      value.replaceAll('{registry}', options.registry).replaceAll('{prefix}', options.prefix),
    ]),
  );
}

/** Combines discovered images with the config's per-image settings into full image specs. */
export function resolveImages(
  found: readonly FoundImage[],
  config: Config,
  options: ResolveOptions,
): ImageSpec[] {
  const specs: ImageSpec[] = [];
  const seen = new Set<string>();
  const foundByName = new Map(found.map((image) => [image.name, image]));
  const names = [...found.map((image) => image.name)];
  for (const name of Object.keys(config.images)) if (!foundByName.has(name)) names.push(name);

  for (const name of names) {
    if (seen.has(name)) continue;
    seen.add(name);
    const entry: ImageConfig = config.images[name] ?? {};
    const discovered = foundByName.get(name);
    let kind = discovered?.kind ?? 'dockerfile';
    let context = discovered?.context;
    let dockerfile = discovered?.kind === 'dockerfile' ? discovered.source : undefined;

    if (entry.context !== undefined)
      context = configuredPath(entry.context, 'context', name, entry);
    if (entry.dockerfile !== undefined) {
      // Like `docker build -f`, a relative Dockerfile path is taken from the repository root.
      dockerfile = configuredPath(entry.dockerfile, 'dockerfile', name, entry);
      kind = 'dockerfile';
    }
    if (entry.builder === 'pack' && entry.dockerfile === undefined) kind = 'buildpacks';
    if (!discovered && dockerfile === undefined && context !== undefined && kind === 'dockerfile') {
      dockerfile = joinRelative(context, 'Dockerfile');
    }
    if (!discovered && context === undefined && dockerfile !== undefined)
      context = dirname(dockerfile);
    if (context === undefined) {
      throw new ConfigError(
        `image "${name}" is not found by discovery; give it a context or a dockerfile`,
        entry.position,
      );
    }
    const configured = entry.dockerfile !== undefined || entry.context !== undefined;
    if (
      configured &&
      dockerfile !== undefined &&
      kind === 'dockerfile' &&
      !options.files.hasFile(dockerfile)
    ) {
      throw new ConfigError(
        `image "${name}": Dockerfile ${dockerfile} does not exist`,
        entry.position,
      );
    }
    if (configured && !options.files.hasFolder(context)) {
      throw new ConfigError(
        `image "${name}": build context ${context} does not exist`,
        entry.position,
      );
    }

    specs.push({
      name,
      kind,
      source: discovered?.source ?? dockerfile ?? context,
      context,
      ...(kind === 'dockerfile' && dockerfile !== undefined ? { dockerfile } : {}),
      ...(entry.target !== undefined ? { target: entry.target } : {}),
      buildArgs: expandBuildArgs({ ...config.buildArgs, ...(entry.buildArgs ?? {}) }, options),
      platforms: [...(entry.platforms ?? [])],
      dependsOn: [...(entry.dependsOn ?? [])],
      watch: [...(entry.watch ?? [])],
      builder: entry.builder ?? (kind === 'buildpacks' ? 'pack' : config.builder),
      repository: repositoryName(
        entry.repository ?? config.repository,
        options.registry,
        options.prefix,
        name,
      ),
      tagRules: [...(entry.tags ?? config.tags)],
      ...(entry.test !== undefined ? { test: entry.test } : {}),
      variants: { ...(entry.variants ?? {}) },
    });
  }
  return specs;
}

/** Whether `path` would be found as an image source by the discovery patterns. */
export function matchesDiscovery(path: string, config: Config): string | undefined {
  for (const compiled of config.discovery.map(compilePattern)) {
    const match = compiled.full.exec(path);
    if (match) return imageNameFrom(match[1] ?? '');
  }
  return undefined;
}
