// Variants: every affected image built again with another target or build-args, e.g. a
// `debug` build with busybox in it. Pure: from a plan's plain images to the plan with the
// variants added.
//
// A variant is planned as an image of its own, named `<image>+<variant>` (`api+debug`).
// That name is a label only (plans, logs, matrices), never a repository: `+` cannot be in
// an image name, so it cannot clash with one. Where it is pushed:
//   - by default into the variant's channel: the repository the image would have with the
//     prefix `<prefix without its trailing ->-<variant>-` (`stable-` → `stable-debug-api`,
//     `kevin-` → `kevin-debug-api`, no prefix → `debug-api`);
//   - with `tag-suffix`, into the image's own repository, every tag suffixed
//     (`<sha>-debug`, `main-debug`, `latest-debug`).
// The variant of a child builds on the same variant of its parent when the parent has one,
// else on the plain parent.
import { NameError } from './errors.js';
import type { PlannedImage } from './plan.js';
import { parseReference, validateTag } from './reference.js';
import type { ImageSpec, VariantConfig } from './types.js';
import { repositoryName } from './discovery.js';

/** The separator between an image and its variant in a variant's name. */
export const VARIANT_SEPARATOR = '+';

export function variantImageName(image: string, variant: string): string {
  return `${image}${VARIANT_SEPARATOR}${variant}`;
}

/** The plain image a (variant) image name is of: `api+debug` → `api`, `api` → `api`. */
export function plainImageName(name: string): string {
  const at = name.indexOf(VARIANT_SEPARATOR);
  return at < 0 ? name : name.slice(0, at);
}

/**
 * The repository prefix of a variant's channel: `stable-` → `stable-debug-`, '' → `debug-`.
 * A prefix ending in a path separator (`team/`) keeps it: `team/debug-`.
 */
export function variantPrefix(prefix: string, variant: string): string {
  const stem = prefix.replace(/-+$/, '');
  return stem === '' || stem.endsWith('/') ? `${stem}${variant}-` : `${stem}-${variant}-`;
}

/** An image's variants: the config's top-level ones, replaced by the image's own of the same name. */
export function variantsOf(
  spec: ImageSpec,
  global: Readonly<Record<string, VariantConfig>> = {},
): Record<string, VariantConfig> {
  return { ...global, ...spec.variants };
}

export interface VariantNaming {
  /** Registry after aliases were resolved. */
  registry: string;
  /** The run's repository prefix (channel resolved). */
  prefix: string;
  /** The repository naming template of an image (its own or the config's). */
  repositoryTemplate: (image: string) => string;
  /** The event's commit: the sha tag, to find a parent variant built by an earlier job. */
  sha: string;
}

export interface ExpandInput {
  /** The plan's images (plain), in build order. */
  images: readonly PlannedImage[];
  specs: readonly ImageSpec[];
  /** The config's top-level variants. */
  variants?: Readonly<Record<string, VariantConfig>>;
  naming: VariantNaming;
}

/**
 * The plan's images with one more per variant of each, each variant right after its image
 * (so after its parent's variant too: the plain images are in build order).
 * Throws NameError when a variant's repository or tags are not valid.
 */
export function expandVariants(input: ExpandInput): PlannedImage[] {
  const specs = new Map(input.specs.map((spec) => [spec.name, spec]));
  const variantsByImage = new Map<string, Record<string, VariantConfig>>();
  const variantsFor = (name: string): Record<string, VariantConfig> => {
    let variants = variantsByImage.get(name);
    if (variants === undefined) {
      const spec = specs.get(name);
      variants = spec ? variantsOf(spec, input.variants) : { ...(input.variants ?? {}) };
      variantsByImage.set(name, variants);
    }
    return variants;
  };
  const planned = new Set(input.images.map((image) => image.name));
  const out: PlannedImage[] = [];
  for (const image of input.images) {
    out.push(image);
    for (const [variant, settings] of Object.entries(variantsFor(image.name))) {
      out.push(planVariant(image, variant, settings, variantsFor, planned, input.naming));
    }
  }
  return out;
}

function planVariant(
  image: PlannedImage,
  variant: string,
  settings: VariantConfig,
  variantsFor: (name: string) => Record<string, VariantConfig>,
  planned: ReadonlySet<string>,
  naming: VariantNaming,
): PlannedImage {
  const name = variantImageName(image.name, variant);
  const suffix = settings.tagSuffix;
  const where = (parentImage: string): { repository: string; tag: string } => {
    const parentSettings = variantsFor(parentImage)[variant];
    const parentSuffix = parentSettings?.tagSuffix;
    return {
      repository: variantRepository(parentImage, variant, parentSuffix, naming),
      tag: `${naming.sha}${parentSuffix ?? ''}`,
    };
  };
  const repository = variantRepository(image.name, variant, suffix, naming);
  try {
    parseReference(repository);
  } catch (error) {
    throw new NameError(
      `image "${image.name}", variant "${variant}": repository ${(error as Error).message}`,
    );
  }
  if (suffix === undefined && repository === image.repository) {
    throw new NameError(
      `image "${image.name}", variant "${variant}": its repository ${repository} is the image's own ` +
        '(the naming template has no {prefix}); give the variant a tag-suffix',
    );
  }
  const tags = image.tags.map((tag) => `${tag}${suffix ?? ''}`);
  for (const tag of tags) {
    const problem = validateTag(tag);
    if (problem !== undefined) {
      throw new NameError(`image "${image.name}", variant "${variant}": tag ${problem}`);
    }
  }

  const parentName = (parent: string): string =>
    variantsFor(parent)[variant] !== undefined ? variantImageName(parent, variant) : parent;
  const parents = image.parents.map(parentName);
  const variantParents: Record<string, { repository: string; tag: string }> = {};
  for (const parent of image.parents) {
    if (variantsFor(parent)[variant] !== undefined)
      variantParents[variantImageName(parent, variant)] = where(parent);
  }
  const target = settings.target ?? image.target;
  return {
    ...image,
    name,
    variant,
    baseImage: image.name,
    repository,
    ...(target !== undefined ? { target } : {}),
    buildArgs: { ...image.buildArgs, ...settings.buildArgs },
    parents,
    rebuiltParents: image.rebuiltParents.filter((parent) => planned.has(parent)).map(parentName),
    tags,
    ...(suffix !== undefined ? { tagSuffix: suffix } : {}),
    ...(Object.keys(variantParents).length > 0 ? { variantParents } : {}),
    reasons: [...image.reasons, `variant ${variant} of ${image.name}`],
  };
}

function variantRepository(
  image: string,
  variant: string,
  tagSuffix: string | undefined,
  naming: VariantNaming,
): string {
  return repositoryName(
    naming.repositoryTemplate(image),
    naming.registry,
    tagSuffix !== undefined ? naming.prefix : variantPrefix(naming.prefix, variant),
    image,
  );
}
