import { chunkMatrix, matrixByLevel } from '../../src/core/matrix.js';
import type { Plan, PlannedImage } from '../../src/core/plan.js';

function planOf(levels: number[]): Plan {
  const images = levels.map(
    (level, index) =>
      ({ name: `img-${String(index).padStart(3, '0')}`, level }) as unknown as PlannedImage,
  );
  return {
    images,
    graph: images.map((image) => ({ name: image.name, parents: [], level: image.level })),
  } as unknown as Plan;
}

// 600 images over 4 levels (300, 200, 90, 10), in build order.
const levels = Array.from({ length: 600 }, (_, i) => (i < 300 ? 0 : i < 500 ? 1 : i < 590 ? 2 : 3));
const plan = planOf(levels);

describe('chunkMatrix', () => {
  test('600 images split into chunks of at most 256, each image once, in build order', () => {
    const chunks = chunkMatrix(plan);
    expect(chunks.map((chunk) => chunk.include.length)).toEqual([256, 256, 88]);
    const all = chunks.flatMap((chunk) => chunk.include);
    expect(all.map((entry) => entry.image)).toEqual(plan.images.map((image) => image.name));
    expect(new Set(all.map((entry) => entry.image)).size).toBe(600);
    for (let i = 1; i < all.length; i++)
      expect(all[i]?.level).toBeGreaterThanOrEqual(all[i - 1]?.level ?? 0);
    // Each chunk is a valid strategy.matrix value.
    for (const chunk of chunks) expect(JSON.parse(JSON.stringify(chunk))).toEqual(chunk);
  });

  test('a smaller limit, no images, and a bad limit', () => {
    expect(
      chunkMatrix(planOf([0, 0, 1, 1, 2]), 2).map((c) => c.include.map((e) => e.level)),
    ).toEqual([[0, 0], [1, 1], [2]]);
    expect(chunkMatrix(planOf([]))).toEqual([]);
    expect(() => chunkMatrix(plan, 257)).toThrow(RangeError);
    expect(() => chunkMatrix(plan, 0)).toThrow(RangeError);
  });
});

describe('matrixByLevel', () => {
  test('one matrix per level, cut under the limit, keeping the order', () => {
    const byLevel = matrixByLevel(plan);
    expect(byLevel.map((l) => [l.level, l.matrices.map((m) => m.include.length)])).toEqual([
      [0, [256, 44]],
      [1, [200]],
      [2, [90]],
      [3, [10]],
    ]);
    const all = byLevel.flatMap((l) => l.matrices.flatMap((m) => m.include));
    expect(all.map((entry) => entry.image)).toEqual(plan.images.map((image) => image.name));
    for (const l of byLevel)
      for (const m of l.matrices) for (const e of m.include) expect(e.level).toBe(l.level);
  });
});
