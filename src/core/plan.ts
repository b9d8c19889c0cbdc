import type { Affected } from './changes.js';
import { describeReason } from './changes.js';
import type { ImageGraph } from './graph.js';
import { computeTags, isDefaultBranchBuild } from './tags.js';
import type {
  AffectReason,
  BuilderName,
  ChangeSet,
  CiEvent,
  ImageSpec,
  TestConfig,
} from './types.js';

/** Version of the plan's JSON shape; bumped only on a breaking change. */
export const PLAN_VERSION = 1;

export interface PlannedImage {
  name: string;
  kind: 'dockerfile' | 'buildpacks';
  repository: string;
  context: string;
  dockerfile?: string;
  target?: string;
  buildArgs: Record<string, string>;
  platforms: string[];
  builder: BuilderName;
  /** Every parent in the image graph (built in this run or not). */
  parents: string[];
  /** Parents rebuilt in this run: the image must be built on their new digests. */
  rebuiltParents: string[];
  level: number;
  tags: string[];
  reasons: string[];
  reasonDetails: AffectReason[];
  test?: TestConfig;
  /**
   * Set on a variant's build (see core/variants.ts): its name is `<image>+<variant>`, a
   * label only, never a repository.
   */
  variant?: string;
  /** A variant's plain image (`api` for `api+debug`). */
  baseImage?: string;
  /** A variant pushed into its image's repository: the suffix on each of its tags. */
  tagSuffix?: string;
  /** Parents that are variants (`base+debug`): where they are pushed and their sha tag. */
  variantParents?: Record<string, { repository: string; tag: string }>;
}

export interface PlanWarning {
  file: string;
  line?: number;
  message: string;
}

export interface Plan {
  version: typeof PLAN_VERSION;
  event: {
    platform: CiEvent['platform'];
    kind: CiEvent['kind'];
    sourceEvent: string;
    ref: string;
    refType: CiEvent['refType'];
    sha: string;
    defaultBranch?: string;
    isDefaultBranch: boolean;
    /** How the changed paths were found, or why everything is built. */
    changes: string;
    base?: string;
    changedPaths?: number;
  };
  /** Affected images in build order. */
  images: PlannedImage[];
  unaffected: { name: string; why: string }[];
  /** Images whose source file was deleted by this change: reported, not built. */
  removed: { name: string; source: string }[];
  /** Every image of the repository with its parents, for graphs and matrices. */
  graph: { name: string; repository: string; parents: string[]; level: number }[];
  warnings: PlanWarning[];
}

export interface PlanInput {
  event: CiEvent;
  changes: ChangeSet;
  images: readonly ImageSpec[];
  graph: ImageGraph;
  affected: Affected;
  removed: { name: string; source: string }[];
  warnings: PlanWarning[];
  shaShortLength: number;
  now: Date;
}

export function planBuilds(input: PlanInput): Plan {
  const { event, changes, graph, affected } = input;
  const specs = new Map(input.images.map((image) => [image.name, image]));
  const tagContext = { event, shaShortLength: input.shaShortLength, now: input.now };

  const images: PlannedImage[] = [];
  for (const [name, reasonDetails] of affected.images) {
    const spec = specs.get(name) as ImageSpec;
    const parents = graph.parents.get(name) ?? [];
    const reasons = reasonDetails.map(describeReason);
    const more = affected.morePaths.get(name);
    if (more) reasons.push(`and ${more} more changed path${more === 1 ? '' : 's'}`);
    images.push({
      name,
      kind: spec.kind,
      repository: spec.repository,
      context: spec.context,
      ...(spec.dockerfile !== undefined ? { dockerfile: spec.dockerfile } : {}),
      ...(spec.target !== undefined ? { target: spec.target } : {}),
      buildArgs: spec.buildArgs,
      platforms: spec.platforms,
      builder: spec.builder,
      parents,
      rebuiltParents: parents.filter((parent) => affected.images.has(parent)),
      level: graph.levels.get(name) ?? 0,
      tags: computeTags(name, spec.tagRules, tagContext),
      reasons,
      reasonDetails,
      ...(spec.test !== undefined ? { test: spec.test } : {}),
    });
  }

  return {
    version: PLAN_VERSION,
    event: {
      platform: event.platform,
      kind: event.kind,
      sourceEvent: event.sourceEvent,
      ref: event.refName,
      refType: event.refType,
      sha: event.sha,
      ...(event.defaultBranch !== undefined ? { defaultBranch: event.defaultBranch } : {}),
      isDefaultBranch: isDefaultBranchBuild(event),
      changes: changes.all ? changes.reason : changes.how,
      ...(!changes.all && changes.base !== undefined ? { base: changes.base } : {}),
      ...(!changes.all ? { changedPaths: changes.paths.length } : {}),
    },
    images,
    unaffected: [...affected.unaffected].map(([name, why]) => ({ name, why })),
    removed: input.removed,
    graph: graph.order.map((name) => ({
      name,
      repository: specs.get(name)?.repository ?? name,
      parents: graph.parents.get(name) ?? [],
      level: graph.levels.get(name) ?? 0,
    })),
    warnings: input.warnings,
  };
}

/** GitHub's `strategy.matrix` for the affected images: `{ include: [{ image, level }] }`. */
export function matrixOf(plan: Plan): { include: { image: string; level: number }[] } {
  return { include: plan.images.map((image) => ({ image: image.name, level: image.level })) };
}
