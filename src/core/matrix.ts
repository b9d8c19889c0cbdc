// GitHub `strategy.matrix` values for fanning the affected images out over many runners.
import type { Plan } from './plan.js';

/** GitHub's limit of jobs one matrix may generate. */
export const GITHUB_MATRIX_LIMIT = 256;

export interface MatrixEntry {
  image: string;
  level: number;
}

export interface Matrix {
  include: MatrixEntry[];
}

function entries(plan: Plan): MatrixEntry[] {
  return plan.images.map((image) => ({ image: image.name, level: image.level }));
}

/**
 * The affected images in build order, cut into matrices of at most `maxJobs` entries each
 * (GitHub refuses a matrix of more than 256 jobs). Chunks follow each other in build order,
 * so a level's images keep their order; a chunk may span levels, so a workflow that builds
 * chunks in parallel must still run them level by level (see {@link matrixByLevel}).
 */
export function chunkMatrix(plan: Plan, maxJobs = GITHUB_MATRIX_LIMIT): Matrix[] {
  if (!Number.isInteger(maxJobs) || maxJobs < 1 || maxJobs > GITHUB_MATRIX_LIMIT) {
    throw new RangeError(`maxJobs must be an integer from 1 to ${GITHUB_MATRIX_LIMIT}`);
  }
  const all = [...entries(plan)].sort((a, b) => a.level - b.level);
  const chunks: Matrix[] = [];
  for (let start = 0; start < all.length; start += maxJobs) {
    chunks.push({ include: all.slice(start, start + maxJobs) });
  }
  return chunks;
}

/**
 * One matrix per level, level 0 first: every image of a level has all its rebuilt parents in
 * earlier levels, so a workflow with one matrix job per level (each `needs:` the one before)
 * builds parents before children. A level of more than `maxJobs` images is cut into several.
 */
export function matrixByLevel(
  plan: Plan,
  maxJobs = GITHUB_MATRIX_LIMIT,
): { level: number; matrices: Matrix[] }[] {
  const levels = new Map<number, MatrixEntry[]>();
  for (const entry of entries(plan)) {
    const list = levels.get(entry.level) ?? [];
    list.push(entry);
    levels.set(entry.level, list);
  }
  return [...levels.keys()]
    .sort((a, b) => a - b)
    .map((level) => {
      const list = levels.get(level) ?? [];
      const matrices: Matrix[] = [];
      for (let start = 0; start < list.length; start += maxJobs) {
        matrices.push({ include: list.slice(start, start + maxJobs) });
      }
      return { level, matrices };
    });
}
