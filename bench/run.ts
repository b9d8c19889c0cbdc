// `npm run bench`: prints a table of figures and writes them to .bench/results.json.
// Each figure is measured in this run next to what it is compared with.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { benchScheduler } from './scheduler.js';
import { benchNoopRerun } from './noop-rerun.js';
import { benchPromote } from './promote.js';
import { benchStartup } from './startup.js';

interface Sample {
  seconds: number;
  affected: number;
  heapDeltaMB: number;
  maxRssMB: number;
}

function scenario(
  images: number,
  files: number,
  changed: number,
  mode: 'plan' | 'baseline',
  runs = 3,
): Sample {
  const samples: Sample[] = [];
  for (let i = 0; i < runs; i++) {
    const out = execFileSync(
      process.execPath,
      [
        '--expose-gc',
        '--import',
        'tsx',
        'bench/plan-scenario.ts',
        String(images),
        String(files),
        String(changed),
        mode,
      ],
      {
        encoding: 'utf8',
        maxBuffer: 1 << 26,
      },
    );
    samples.push(JSON.parse(out.trim().split('\n').pop() as string) as Sample);
  }
  // The median run: one slow start of the machine should not decide a figure.
  samples.sort((a, b) => a.seconds - b.seconds);
  return samples[Math.floor(samples.length / 2)] as Sample;
}

const results: Record<string, unknown> = {};
const rows: string[][] = [['scenario', 'seconds', 'peak RSS MB', 'heap MB', 'affected', 'vs']];

const baseline = scenario(1000, 100_000, 10_000, 'baseline', 1);
const plan1k = scenario(1000, 100_000, 10_000, 'plan');
const plan10k = scenario(10_000, 1_000_000, 100_000, 'plan');
results.planning = { baseline1k: baseline, plan1k, plan10k };
rows.push([
  'per-image globs, 1,000 images, 10,000 paths',
  baseline.seconds.toFixed(3),
  baseline.maxRssMB.toFixed(0),
  baseline.heapDeltaMB.toFixed(0),
  String(baseline.affected),
  '',
]);
rows.push([
  'plan, 1,000 images, 100,000 files, 10,000 changed',
  plan1k.seconds.toFixed(3),
  plan1k.maxRssMB.toFixed(0),
  plan1k.heapDeltaMB.toFixed(0),
  String(plan1k.affected),
  `${(baseline.seconds / plan1k.seconds).toFixed(1)}x faster than globs`,
]);
rows.push([
  'plan, 10,000 images, 1,000,000 files, 100,000 changed',
  plan10k.seconds.toFixed(3),
  plan10k.maxRssMB.toFixed(0),
  plan10k.heapDeltaMB.toFixed(0),
  String(plan10k.affected),
  `${(plan10k.seconds / plan1k.seconds).toFixed(1)}x the 1,000-image time`,
]);

const scheduler = await benchScheduler();
results.scheduler = scheduler;
for (const [workers, figures] of Object.entries(scheduler.workers)) {
  rows.push([
    `scheduler, ${scheduler.images} images, ${workers} workers (makespan / critical path)`,
    figures.dependencyOrder.toFixed(3),
    '',
    '',
    '',
    `level by level: ${figures.levelByLevel.toFixed(3)}`,
  ]);
}

const promotion = await benchPromote();
results.promotion = promotion;
rows.push([
  `promote ${promotion.tags} tags (${promotion.requestsPerTag.toFixed(2)} requests/tag)`,
  promotion.seconds.toFixed(3),
  '',
  '',
  '',
  `skopeo copy: ${promotion.skopeoSeconds.toFixed(3)} s, ${promotion.skopeoRequestsPerTag.toFixed(1)} requests/tag; ratio ${promotion.ratio.toFixed(2)}`,
]);

const noopRerun = await benchNoopRerun();
results.noopRerun = noopRerun;
rows.push([
  `no-op rerun of a push, ${noopRerun.images} images (${noopRerun.rerunRequestsPerImage.toFixed(2)} requests/image, ${noopRerun.rerunWorkPerImage.toFixed(2)} without ping, ${noopRerun.rerunBlobUploads} blob uploads)`,
  noopRerun.rerunSeconds.toFixed(3),
  '',
  '',
  '',
  `first run: ${noopRerun.firstSeconds.toFixed(3)} s, ${noopRerun.firstRequestsPerImage.toFixed(2)} requests/image; ratio ${noopRerun.ratio.toFixed(2)}`,
]);

const startup = await benchStartup();
results.startup = startup;
rows.push([
  `CLI start-up to first line (--help, median of ${startup.runs})`,
  startup.cliFirstLineSeconds.toFixed(3),
  '',
  '',
  '',
  `bare node: ${startup.nodeFirstLineSeconds.toFixed(3)} s; ratio ${startup.ratio.toFixed(2)}`,
]);
rows.push([
  'bundle sizes, MB (dist/index.js, dist/cli/index.js)',
  '',
  '',
  '',
  '',
  `action ${(startup.actionBytes / 1e6).toFixed(2)} MB (${startup.actionBytes} B), CLI ${(startup.cliBytes / 1e6).toFixed(2)} MB (${startup.cliBytes} B); ratio ${(startup.cliBytes / startup.actionBytes).toFixed(2)}`,
]);

const widths = rows[0]!.map((_, col) => Math.max(...rows.map((row) => (row[col] ?? '').length)));
for (const row of rows)
  console.log(row.map((cell, col) => cell.padEnd(widths[col] ?? 0)).join('  '));
mkdirSync('.bench', { recursive: true });
writeFileSync('.bench/results.json', `${JSON.stringify(results, null, 2)}\n`);
