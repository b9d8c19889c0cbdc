// Runs a DAG of tasks with a concurrency limit: a task starts as soon as every parent is
// done (not level by level), the longest remaining chain first. A failed task skips its
// descendants; independent tasks go on.

export interface ScheduledTask {
  name: string;
  /** Parents that are tasks of this run; others are ignored. */
  parents: readonly string[];
}

export type TaskResult<T> =
  | { status: 'done'; value: T; seconds: number }
  | { status: 'failed'; error: unknown; seconds: number }
  | { status: 'skipped'; reason: string };

export interface ScheduleOptions {
  maxParallel: number;
  onStart?: (name: string, started: number, total: number) => void;
  onFinish?: (name: string, result: TaskResult<unknown>) => void;
}

/**
 * Longest path (in tasks) from each task to a leaf. Among ready tasks the one that heads
 * the longest chain goes first: starting it late would stretch the whole run.
 */
export function chainLengths(tasks: readonly ScheduledTask[]): Map<string, number> {
  const children = new Map<string, string[]>(tasks.map((task) => [task.name, []]));
  for (const task of tasks) {
    for (const parent of task.parents) children.get(parent)?.push(task.name);
  }
  const lengths = new Map<string, number>();
  const visit = (name: string): number => {
    const known = lengths.get(name);
    if (known !== undefined) return known;
    let longest = 0;
    for (const child of children.get(name) ?? []) longest = Math.max(longest, visit(child));
    lengths.set(name, longest + 1);
    return longest + 1;
  };
  for (const task of tasks) visit(task.name);
  return lengths;
}

export async function schedule<T>(
  tasks: readonly ScheduledTask[],
  run: (name: string) => Promise<T>,
  options: ScheduleOptions,
): Promise<Map<string, TaskResult<T>>> {
  const names = new Set(tasks.map((task) => task.name));
  const parents = new Map(
    tasks.map((task) => [task.name, task.parents.filter((p) => names.has(p))]),
  );
  const children = new Map<string, string[]>(tasks.map((task) => [task.name, []]));
  for (const [name, list] of parents) for (const parent of list) children.get(parent)?.push(name);
  const priority = chainLengths(tasks);
  const waiting = new Map([...parents].map(([name, list]) => [name, list.length]));
  const results = new Map<string, TaskResult<T>>();
  let ready = tasks.filter((task) => waiting.get(task.name) === 0).map((task) => task.name);
  let running = 0;
  let started = 0;
  const limit = Math.max(1, options.maxParallel);

  const skipDescendants = (name: string, cause: string): void => {
    for (const child of children.get(name) ?? []) {
      if (results.has(child)) continue;
      const result: TaskResult<T> = { status: 'skipped', reason: cause };
      results.set(child, result);
      options.onFinish?.(child, result);
      skipDescendants(child, cause);
    }
  };

  return new Promise((resolve) => {
    const pump = (): void => {
      ready.sort((a, b) => (priority.get(b) ?? 0) - (priority.get(a) ?? 0) || (a < b ? -1 : 1));
      while (running < limit && ready.length > 0) {
        const name = ready.shift() as string;
        running++;
        started++;
        options.onStart?.(name, started, tasks.length);
        const began = performance.now();
        run(name).then(
          (value) =>
            finish(name, { status: 'done', value, seconds: (performance.now() - began) / 1000 }),
          (error: unknown) =>
            finish(name, { status: 'failed', error, seconds: (performance.now() - began) / 1000 }),
        );
      }
      if (running === 0 && ready.length === 0) resolve(results);
    };

    const finish = (name: string, result: TaskResult<T>): void => {
      running--;
      results.set(name, result);
      options.onFinish?.(name, result);
      if (result.status === 'done') {
        for (const child of children.get(name) ?? []) {
          const left = (waiting.get(child) ?? 0) - 1;
          waiting.set(child, left);
          if (left === 0 && !results.has(child)) ready.push(child);
        }
      } else {
        skipDescendants(name, `parent ${name} failed`);
        ready = ready.filter((candidate) => !results.has(candidate));
      }
      pump();
    };

    pump();
  });
}

/** Level by level, as a matrix of CI jobs per level runs: for comparison in benchmarks. */
export async function scheduleByLevel<T>(
  tasks: readonly ScheduledTask[],
  run: (name: string) => Promise<T>,
  maxParallel: number,
): Promise<void> {
  const level = new Map<string, number>();
  const byName = new Map(tasks.map((task) => [task.name, task]));
  const levelOf = (name: string): number => {
    const known = level.get(name);
    if (known !== undefined) return known;
    const task = byName.get(name);
    const value =
      Math.max(-1, ...(task?.parents ?? []).filter((p) => byName.has(p)).map(levelOf)) + 1;
    level.set(name, value);
    return value;
  };
  const levels: string[][] = [];
  for (const task of tasks) (levels[levelOf(task.name)] ??= []).push(task.name);
  for (const names of levels) {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < names.length) await run(names[next++] as string);
    };
    await Promise.all(Array.from({ length: Math.min(maxParallel, names.length) }, worker));
  }
}
