// Scheduler makespan on a generated graph of 200 images with random build times, run by a
// simulated builder (timers), next to a level-by-level order on the same graph.
import { schedule, scheduleByLevel } from '../src/build/scheduler.js';
import type { ScheduledTask } from '../src/build/scheduler.js';
import { random } from './generate.js';

export interface SchedulerFigures {
  images: number;
  criticalPathSeconds: number;
  workers: Record<string, { dependencyOrder: number; levelByLevel: number }>;
}

function graph(
  count: number,
  seed: number,
): { tasks: ScheduledTask[]; seconds: Map<string, number> } {
  const rand = random(seed);
  const tasks: ScheduledTask[] = [];
  const seconds = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    const parents: string[] = [];
    if (i > 0 && rand() < 0.7) parents.push(`i${Math.floor(rand() * i)}`);
    if (i > 1 && rand() < 0.2) parents.push(`i${Math.floor(rand() * i)}`);
    tasks.push({ name: `i${i}`, parents: [...new Set(parents)] });
    // Build times from 20 ms to 200 ms: a long tail, as real images have.
    seconds.set(`i${i}`, Math.round(20 + 180 * rand() ** 2) / 1000);
  }
  return { tasks, seconds };
}

function criticalPath(
  tasks: readonly ScheduledTask[],
  seconds: ReadonlyMap<string, number>,
): number {
  const finish = new Map<string, number>();
  for (const task of tasks) {
    const start = Math.max(0, ...task.parents.map((p) => finish.get(p) ?? 0));
    finish.set(task.name, start + (seconds.get(task.name) ?? 0));
  }
  return Math.max(...finish.values());
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return (performance.now() - started) / 1000;
}

export async function benchScheduler(): Promise<SchedulerFigures> {
  const { tasks, seconds } = graph(200, 7);
  const build = (name: string) =>
    new Promise<void>((resolve) => setTimeout(resolve, (seconds.get(name) ?? 0) * 1000));
  const critical = criticalPath(tasks, seconds);
  const workers: SchedulerFigures['workers'] = {};
  for (const count of [8, 32, 200]) {
    const dependencyOrder = await timed(() => schedule(tasks, build, { maxParallel: count }));
    const levelByLevel = await timed(() => scheduleByLevel(tasks, build, count));
    workers[String(count)] = {
      dependencyOrder: dependencyOrder / critical,
      levelByLevel: levelByLevel / critical,
    };
  }
  return { images: tasks.length, criticalPathSeconds: critical, workers };
}
