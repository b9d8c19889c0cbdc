// A concurrency limit for promises: pure bookkeeping, no I/O.

/** Runs at most `concurrency` of the functions given to it at once, the rest in order. */
export type Limit = <T>(work: () => Promise<T>) => Promise<T>;

export function createLimit(concurrency: number): Limit {
  const limit = Math.max(1, Math.floor(concurrency));
  let active = 0;
  const waiting: (() => void)[] = [];
  return async (work) => {
    if (active >= limit) {
      // The slot is handed over by the one finishing, so a newcomer cannot take it first.
      await new Promise<void>((resolve) => waiting.push(resolve));
    } else {
      active++;
    }
    try {
      return await work();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else active--;
    }
  };
}
