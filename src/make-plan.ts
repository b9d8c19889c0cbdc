import type { Git } from './adapters/git.js';
import { RepoFiles, mapLimit } from './adapters/files.js';
import { detectChanges } from './changes/detect.js';
import { CONFIG_FILE_NAMES, defaultConfig } from './config/defaults.js';
import { parseConfig } from './config/parse-config.js';
import type { ContextFilter } from './core/changes.js';
import { contextFilter, findAffected, imagesWithChangedSettings } from './core/changes.js';
import { FileIndex, findImages, matchesDiscovery, resolveImages } from './core/discovery.js';
import type { FoundImage } from './core/discovery.js';
import { analyseDockerfile } from './core/dockerfile.js';
import { DockerfileError, NameError, UserError } from './core/errors.js';
import { buildGraph, findEdges } from './core/graph.js';
import type { Plan, PlanWarning } from './core/plan.js';
import { planBuilds } from './core/plan.js';
import { parseReference } from './core/reference.js';
import { resolvePrefix } from './core/channel.js';
import { computeTags } from './core/tags.js';
import type { VariantNaming } from './core/variants.js';
import { expandVariants, variantsOf } from './core/variants.js';
import type { ChangeSet, CiEvent, Config, DockerfileInfo, ImageSpec } from './core/types.js';

export interface PlanOptions {
  git: Git;
  files: RepoFiles;
  event: CiEvent;
  /** Repo-relative config path; default: the first of CONFIG_FILE_NAMES that exists. */
  configPath?: string;
  /** Registry given as an input, over the config file's. */
  registry?: string;
  /** Turns aliases (`ecr`) into a registry host; it may ask the cloud who we are. */
  resolveRegistry?: (value: string) => Promise<string>;
  /** Changed paths known without git (`--changed-files`). */
  changedFiles?: string[];
  /** The GitHub compare API, for histories git cannot reach. */
  compare?: (base: string, head: string) => Promise<{ files: string[]; truncated: boolean }>;
  log: (line: string) => void;
  now?: Date;
}

export interface PlanResult {
  plan: Plan;
  config: Config;
  images: ImageSpec[];
  /** The event as planned (the config may have named the default branch). */
  event: CiEvent;
  dockerfiles: Map<string, AnalysedDockerfile>;
  /** Per image: which paths of its context reach its build. */
  filters: Map<string, ContextFilter>;
}

/** Reads the config file, or returns the conventions when there is none. */
export async function loadConfig(files: RepoFiles, configPath?: string): Promise<Config> {
  if (configPath !== undefined) {
    const text = await files.readText(configPath);
    if (text === undefined) throw new UserError(`config file ${configPath} does not exist`);
    return parseConfig(text, configPath);
  }
  for (const name of CONFIG_FILE_NAMES) {
    const text = await files.readText(name);
    if (text !== undefined) return parseConfig(text, name);
  }
  return defaultConfig();
}

function imagesOf(
  found: readonly FoundImage[],
  config: Config,
  listing: FileIndex,
  options: PlanOptions,
): ImageSpec[] {
  const registry = options.registry ?? config.registry;
  const prefix = resolvePrefix(config, options.event.actor);
  const expand = (value: string): string =>
    value.replaceAll('{registry}', registry).replaceAll('{prefix}', prefix);
  // Every image gets the top-level variants, under its own of the same name; `{registry}`
  // and `{prefix}` in their build-args are the plain image's (the parent's plain
  // repository is what Dockerfiles name; a build pins it to the parent variant).
  return resolveImages(found, config, { registry, prefix, files: listing }).map((spec) => {
    const variants = variantsOf(spec, config.variants);
    for (const [name, variant] of Object.entries(variants)) {
      variants[name] = {
        ...variant,
        buildArgs: Object.fromEntries(
          Object.entries(variant.buildArgs).map(([key, value]) => [key, expand(value)]),
        ),
      };
    }
    return { ...spec, variants };
  });
}

/** Where variants are pushed, for expandVariants. */
function variantNaming(config: Config, options: PlanOptions, sha: string): VariantNaming {
  return {
    registry: options.registry ?? config.registry,
    prefix: resolvePrefix(config, options.event.actor),
    repositoryTemplate: (image) => config.images[image]?.repository ?? config.repository,
    sha,
  };
}

function checkRepositoryNames(images: readonly ImageSpec[]): void {
  for (const image of images) {
    try {
      parseReference(image.repository);
    } catch (error) {
      throw new NameError(`image "${image.name}": repository ${(error as Error).message}`);
    }
  }
}

/** A Dockerfile as read and analysed during planning; builds reuse it. */
export interface AnalysedDockerfile {
  text: string;
  info: DockerfileInfo;
}

async function analyseAll(
  images: readonly ImageSpec[],
  files: RepoFiles,
): Promise<{ dockerfiles: Map<string, AnalysedDockerfile>; warnings: PlanWarning[] }> {
  const dockerfiles = new Map<string, AnalysedDockerfile>();
  const warnings: PlanWarning[] = [];
  const withDockerfile = images.filter((image) => image.dockerfile !== undefined);
  const texts = await mapLimit(withDockerfile, 32, (image) =>
    files.readText(image.dockerfile as string),
  );
  withDockerfile.forEach((image, index) => {
    const file = image.dockerfile as string;
    const text = texts[index];
    if (text === undefined) {
      throw new DockerfileError(`Dockerfile of image "${image.name}" does not exist`, { file });
    }
    const info = analyseDockerfile(text, file, image.buildArgs);
    dockerfiles.set(image.name, { text, info });
    for (const warning of info.warnings) {
      warnings.push({ file, line: warning.line, message: warning.message });
    }
  });
  return { dockerfiles, warnings };
}

/** Per image: what of its context reaches the build (.dockerignore, narrowed to what the Dockerfile reads). */
async function contextFilters(
  images: readonly ImageSpec[],
  files: RepoFiles,
  dockerfiles: ReadonlyMap<string, AnalysedDockerfile>,
): Promise<Map<string, ContextFilter>> {
  const filters = new Map<string, ContextFilter>();
  const byContext = new Map<string, Promise<string | undefined>>();
  const read = (path: string): Promise<string | undefined> => {
    let text = byContext.get(path);
    if (!text) byContext.set(path, (text = files.readText(path)));
    return text;
  };
  await mapLimit(images, 32, async (image) => {
    // BuildKit reads <Dockerfile>.dockerignore before the context's .dockerignore.
    const own =
      image.dockerfile !== undefined ? await read(`${image.dockerfile}.dockerignore`) : undefined;
    const text =
      own ??
      (await read(image.context === '.' ? '.dockerignore' : `${image.context}/.dockerignore`));
    filters.set(image.name, contextFilter(text, dockerfiles.get(image.name)?.info.contextSources));
  });
  return filters;
}

/** Which images' settings a config change touched, by reading the config at the base commit. */
async function configChanges(
  config: Config,
  changes: ChangeSet,
  found: readonly FoundImage[],
  listing: FileIndex,
  images: readonly ImageSpec[],
  options: PlanOptions,
): Promise<
  { images: ReadonlySet<string>; file: string } | { all: string; file: string } | undefined
> {
  const file = config.file;
  if (file === undefined || changes.all || !changes.paths.includes(file)) return undefined;
  if (changes.base === undefined)
    return { all: `all: ${file} changed and its earlier version is unknown`, file };
  const oldText = await options.git.show(changes.base, file);
  if (oldText === undefined) return { all: `all: ${file} is new`, file };
  try {
    const before = imagesOf(found, parseConfig(oldText, file), listing, options);
    return { images: imagesWithChangedSettings(before, images), file };
  } catch {
    return { all: `all: ${file} could not be read at ${changes.base.slice(0, 7)}`, file };
  }
}

/** Everything from the repository and event to a plan; builds nothing, needs no registry. */
export async function makePlan(options: PlanOptions): Promise<PlanResult> {
  const { git, files, log } = options;
  const config = await loadConfig(files, options.configPath);
  // The CI event knows the default branch best; the config names it where the event cannot.
  const event =
    options.event.defaultBranch === undefined && config.defaultBranch !== undefined
      ? { ...options.event, defaultBranch: config.defaultBranch }
      : options.event;
  const written = options.registry ?? config.registry;
  const resolved = options.resolveRegistry ? await options.resolveRegistry(written) : written;
  options = { ...options, registry: resolved };
  const listing = new FileIndex(await git.listFiles());
  const found = findImages(listing.files, config);
  const images = imagesOf(found, config, listing, options);
  checkRepositoryNames(images);
  // Every image's tags are checked now, affected or not: a bad rule fails every run, not
  // just the day its image changes.
  const now = options.now ?? new Date();
  for (const image of images)
    computeTags(image.name, image.tagRules, { event, shaShortLength: config.shaShortLength, now });
  await mapLimit(images, 32, async (image) => {
    await files.assertInside(image.context, `build context of image "${image.name}":`, 'folder');
    if (image.dockerfile !== undefined) {
      await files.assertInside(image.dockerfile, `Dockerfile of image "${image.name}":`, 'file');
    }
  });

  const { dockerfiles, warnings } = await analyseAll(images, files);
  const uses = new Map([...dockerfiles].map(([name, { info }]) => [name, info.uses]));
  const graph = buildGraph(
    images.map((image) => image.name),
    findEdges(images, uses),
  );

  let changes: ChangeSet;
  if (options.changedFiles !== undefined) {
    changes = {
      all: false,
      paths: options.changedFiles,
      how: 'changed files given',
      head: event.sha,
    };
  } else if (event.requestedImages !== undefined) {
    changes = {
      all: true,
      reason: `requested: ${event.requestedImages.join(', ')}`,
      head: event.sha,
    };
  } else {
    changes = await detectChanges(event, git, { compare: options.compare, log });
  }

  const notContent = new Set<string>();
  for (const image of images) {
    notContent.add(image.source);
    if (image.dockerfile !== undefined) notContent.add(image.dockerfile);
  }
  if (config.file !== undefined) notContent.add(config.file);

  const filters = await contextFilters(images, files, dockerfiles);
  const affected = findAffected({
    images,
    graph,
    changes,
    filters,
    globalWatch: config.watch,
    notContent,
    configChanges: await configChanges(config, changes, found, listing, images, options),
    ...(event.requestedImages !== undefined ? { requested: event.requestedImages } : {}),
  });

  const names = new Set(images.map((image) => image.name));
  const removed: { name: string; source: string }[] = [];
  if (!changes.all) {
    for (const path of changes.paths) {
      if (listing.hasFile(path)) continue;
      const name = matchesDiscovery(path, config);
      if (name !== undefined && name !== '' && !names.has(name))
        removed.push({ name, source: path });
    }
  }

  const plan = planBuilds({
    event,
    changes,
    images,
    graph,
    affected,
    removed,
    warnings,
    shaShortLength: config.shaShortLength,
    now,
  });
  plan.images = expandVariants({
    images: plan.images,
    specs: images,
    naming: variantNaming(config, options, event.sha),
  });
  // A variant's Dockerfile is read with its own build-args; its context filter follows.
  const specs = new Map(images.map((image) => [image.name, image]));
  const variantSpecs: ImageSpec[] = [];
  for (const image of plan.images) {
    if (image.baseImage === undefined) continue;
    const spec = specs.get(image.baseImage) as ImageSpec;
    const variantSpec = { ...spec, name: image.name, buildArgs: image.buildArgs };
    variantSpecs.push(variantSpec);
    const analysed = dockerfiles.get(spec.name);
    if (analysed !== undefined && spec.dockerfile !== undefined) {
      dockerfiles.set(image.name, {
        text: analysed.text,
        info: analyseDockerfile(analysed.text, spec.dockerfile, image.buildArgs),
      });
    }
  }
  for (const [name, filter] of await contextFilters(variantSpecs, files, dockerfiles))
    filters.set(name, filter);
  return { plan, config, images, event, dockerfiles, filters };
}
