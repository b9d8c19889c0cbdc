import { chainLengths, schedule } from '../../src/build/scheduler.js';
import type { ScheduledTask } from '../../src/build/scheduler.js';

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('schedule', () => {
  test('never runs more than maxParallel at once, and runs everything', async () => {
    const tasks = Array.from({ length: 12 }, (_, i) => ({ name: `t${i}`, parents: [] }));
    let running = 0;
    let peak = 0;
    const results = await schedule(
      tasks,
      async (name) => {
        running++;
        peak = Math.max(peak, running);
        await tick(5);
        running--;
        return name.toUpperCase();
      },
      { maxParallel: 3 },
    );
    expect(peak).toBe(3);
    expect(
      [...results.values()].map((r) => (r.status === 'done' ? r.value : r.status)).sort(),
    ).toEqual(tasks.map((t) => t.name.toUpperCase()).sort());
  });

  test('a child starts as soon as its own parents are done, not when the level is', async () => {
    // slow (level 0) runs long; fast -> child must not wait for slow.
    const tasks: ScheduledTask[] = [
      { name: 'slow', parents: [] },
      { name: 'fast', parents: [] },
      { name: 'child', parents: ['fast'] },
    ];
    const events: string[] = [];
    await schedule(
      tasks,
      async (name) => {
        events.push(`start ${name}`);
        await tick(name === 'slow' ? 60 : 5);
        events.push(`end ${name}`);
      },
      { maxParallel: 4 },
    );
    expect(events.indexOf('start child')).toBeLessThan(events.indexOf('end slow'));
    expect(events.indexOf('start child')).toBeGreaterThan(events.indexOf('end fast'));
  });

  test('a failure skips every descendant and lets independent tasks finish', async () => {
    const tasks: ScheduledTask[] = [
      { name: 'base', parents: [] },
      { name: 'app', parents: ['base'] },
      { name: 'plugin', parents: ['app'] },
      { name: 'mixed', parents: ['app', 'web'] },
      { name: 'web', parents: [] },
    ];
    const ran: string[] = [];
    const results = await schedule(
      tasks,
      async (name) => {
        ran.push(name);
        if (name === 'app') throw new Error('RUN failed');
        return name;
      },
      { maxParallel: 2 },
    );
    expect(ran.sort()).toEqual(['app', 'base', 'web']);
    expect(results.get('app')).toMatchObject({ status: 'failed' });
    expect(results.get('plugin')).toEqual({ status: 'skipped', reason: 'parent app failed' });
    expect(results.get('mixed')).toEqual({ status: 'skipped', reason: 'parent app failed' });
    expect(results.get('web')).toMatchObject({ status: 'done', value: 'web' });
  });

  test('with one worker the head of the longest chain goes first', async () => {
    const tasks: ScheduledTask[] = [
      { name: 'a-leaf', parents: [] },
      { name: 'z-root', parents: [] },
      { name: 'z-mid', parents: ['z-root'] },
      { name: 'z-end', parents: ['z-mid'] },
    ];
    const order: string[] = [];
    await schedule(tasks, async (name) => void order.push(name), { maxParallel: 1 });
    // Ties (one task left in each chain) go by name.
    expect(order).toEqual(['z-root', 'z-mid', 'a-leaf', 'z-end']);
  });

  test('reports progress with a running count', async () => {
    const seen: string[] = [];
    await schedule(
      [
        { name: 'a', parents: [] },
        { name: 'b', parents: ['a'] },
      ],
      async () => undefined,
      { maxParallel: 2, onStart: (name, n, total) => seen.push(`[${n}/${total}] ${name}`) },
    );
    expect(seen).toEqual(['[1/2] a', '[2/2] b']);
  });

  test('parents outside the run are ignored; an empty run resolves', async () => {
    const results = await schedule([{ name: 'x', parents: ['not-in-run'] }], async () => 1, {
      maxParallel: 1,
    });
    expect(results.get('x')).toMatchObject({ status: 'done', value: 1 });
    expect((await schedule([], async () => 1, { maxParallel: 1 })).size).toBe(0);
  });
});

describe('chainLengths', () => {
  test('counts the tasks on the longest path to a leaf', () => {
    const lengths = chainLengths([
      { name: 'a', parents: [] },
      { name: 'b', parents: ['a'] },
      { name: 'c', parents: ['b', 'a'] },
      { name: 'd', parents: [] },
    ]);
    expect(Object.fromEntries(lengths)).toEqual({ a: 3, b: 2, c: 1, d: 1 });
  });
});
