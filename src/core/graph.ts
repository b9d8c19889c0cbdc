import { ConfigError, CycleError } from './errors.js';
import type { ImageSpec, ImageUse } from './types.js';
import { parseReference } from './reference.js';

/** Why a child depends on a parent. */
export interface Edge {
  parent: string;
  child: string;
  /** `FROM line 3`, `COPY --from line 9`, `depends-on`. */
  via: string;
}

export interface ImageGraph {
  /** Every image name, parents before children; ties broken by name so plans are stable. */
  order: string[];
  /** Longest distance from a root: roots are level 0. */
  levels: Map<string, number>;
  parents: Map<string, string[]>;
  children: Map<string, string[]>;
  edges: Edge[];
}

/** Looks up which image of the repository a Dockerfile reference names. */
export interface RepositoryIndex {
  find(use: ImageUse): string | undefined;
}

/**
 * Indexes images by their normalised repository. A reference written without a registry
 * host also matches by path alone, so `FROM acme/base` finds `ghcr.io/acme/base`.
 */
export function indexRepositories(
  images: readonly Pick<ImageSpec, 'name' | 'repository'>[],
): RepositoryIndex {
  const byFullName = new Map<string, string>();
  const byPath = new Map<string, string>();
  for (const image of images) {
    const reference = parseReference(image.repository);
    byFullName.set(`${reference.registry}/${reference.path}`, image.name);
    if (!byPath.has(reference.path)) byPath.set(reference.path, image.name);
  }
  return {
    find(use) {
      const full = byFullName.get(`${use.reference.registry}/${use.reference.path}`);
      if (full !== undefined) return full;
      if (use.reference.explicitRegistry) return undefined;
      // `FROM base` reads as docker.io/library/base; written without a host it still means
      // our `base` under whatever registry we push to (`localhost:5000/base`).
      const path = use.reference.path;
      return (
        byPath.get(path) ?? (path.startsWith('library/') ? byPath.get(path.slice(8)) : undefined)
      );
    },
  };
}

const USE_WORDS: Record<ImageUse['kind'], string> = {
  from: 'FROM',
  'copy-from': 'COPY --from',
  'mount-from': 'RUN --mount from',
};

/** Edges from each image's Dockerfile references and its `depends-on` list. */
export function findEdges(
  images: readonly ImageSpec[],
  usesByImage: ReadonlyMap<string, readonly ImageUse[]>,
): Edge[] {
  const index = indexRepositories(images);
  const names = new Set(images.map((image) => image.name));
  const edges: Edge[] = [];
  for (const image of images) {
    const seen = new Set<string>();
    for (const use of usesByImage.get(image.name) ?? []) {
      const parent = index.find(use);
      // An image may name its own repository (e.g. as a cache source): that is no dependency.
      if (parent === undefined || parent === image.name || seen.has(parent)) continue;
      seen.add(parent);
      edges.push({ parent, child: image.name, via: `${USE_WORDS[use.kind]} line ${use.line}` });
    }
    for (const parent of image.dependsOn) {
      if (!names.has(parent)) {
        throw new ConfigError(`images.${image.name}.depends-on: no image is named "${parent}"`);
      }
      if (seen.has(parent)) continue;
      seen.add(parent);
      edges.push({ parent, child: image.name, via: 'depends-on' });
    }
  }
  return edges;
}

function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Orders the graph (Kahn's algorithm); a cycle is an error naming it. */
export function buildGraph(names: readonly string[], edges: readonly Edge[]): ImageGraph {
  const parents = new Map<string, string[]>(names.map((name) => [name, []]));
  const children = new Map<string, string[]>(names.map((name) => [name, []]));
  for (const edge of edges) {
    parents.get(edge.child)?.push(edge.parent);
    children.get(edge.parent)?.push(edge.child);
  }
  for (const list of parents.values()) list.sort(byName);
  for (const list of children.values()) list.sort(byName);

  const waiting = new Map(names.map((name) => [name, parents.get(name)?.length ?? 0]));
  const levels = new Map<string, number>();
  let ready = names.filter((name) => waiting.get(name) === 0).sort(byName);
  const order: string[] = [];
  while (ready.length > 0) {
    const next: string[] = [];
    for (const name of ready) {
      order.push(name);
      const level = Math.max(-1, ...(parents.get(name) ?? []).map((p) => levels.get(p) ?? 0)) + 1;
      levels.set(name, level);
      for (const child of children.get(name) ?? []) {
        const left = (waiting.get(child) ?? 0) - 1;
        waiting.set(child, left);
        if (left === 0) next.push(child);
      }
    }
    ready = next.sort(byName);
  }
  if (order.length < names.length) throw new CycleError(findCycle(names, parents, levels));
  return { order, levels, parents, children, edges: [...edges] };
}

/** A cycle among the images Kahn's algorithm could not order, as `a -> b -> a`. */
function findCycle(
  names: readonly string[],
  parents: ReadonlyMap<string, string[]>,
  ordered: ReadonlyMap<string, number>,
): string[] {
  const stuck = names.filter((name) => !ordered.has(name)).sort(byName);
  const start = stuck[0] ?? '';
  // Walk parent links from a stuck image: every stuck image has a stuck parent, so the walk
  // must revisit an image, and the loop from that image is the cycle.
  const path: string[] = [];
  const at = new Map<string, number>();
  let current = start;
  while (!at.has(current)) {
    at.set(current, path.length);
    path.push(current);
    current = (parents.get(current) ?? []).find((p) => !ordered.has(p)) ?? start;
  }
  // Parent links run against build order: reverse so the message reads parent -> child,
  // then start at the first name so the same cycle is always told the same way.
  const loop = path.slice(at.get(current)).reverse();
  const first = loop.indexOf([...loop].sort(byName)[0] as string);
  const rotated = [...loop.slice(first), ...loop.slice(0, first)];
  return [...rotated, rotated[0] as string];
}

/** Every image built FROM `name`, directly or not, in build order. */
export function descendants(graph: ImageGraph, roots: Iterable<string>): Set<string> {
  const seen = new Set<string>();
  const stack = [...roots];
  while (stack.length > 0) {
    const name = stack.pop() as string;
    for (const child of graph.children.get(name) ?? []) {
      if (!seen.has(child)) {
        seen.add(child);
        stack.push(child);
      }
    }
  }
  return seen;
}
