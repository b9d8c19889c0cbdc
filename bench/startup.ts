// The bundles' size and the CLI's start-up time to its first line of output, next to a bare
// `node` printing one line (the floor any Node program pays), measured in the same run.
import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { resolve } from 'node:path';

export interface StartupFigures {
  /** dist/index.js (the action), bytes. */
  actionBytes: number;
  /** dist/cli/index.js, bytes. */
  cliBytes: number;
  /** `node dist/cli/index.js --help` to its first output line, median of `runs`, seconds. */
  cliFirstLineSeconds: number;
  /** `node -e "console.log(1)"` to its output, median of `runs`, seconds. */
  nodeFirstLineSeconds: number;
  /** cliFirstLineSeconds / nodeFirstLineSeconds. */
  ratio: number;
  runs: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** Seconds from spawning `node args` to the first complete line on stdout. */
function timeToFirstLine(args: string[]): Promise<number> {
  return new Promise((done, fail) => {
    const started = process.hrtime.bigint();
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'ignore'] });
    let seen = '';
    let elapsed: number | undefined;
    child.stdout.on('data', (chunk: Buffer) => {
      if (elapsed !== undefined) return;
      seen += chunk.toString('utf8');
      if (seen.includes('\n')) elapsed = Number(process.hrtime.bigint() - started) / 1e9;
    });
    child.on('error', fail);
    child.on('close', (code) => {
      if (elapsed === undefined)
        fail(new Error(`node ${args.join(' ')} printed no line (exit ${code})`));
      else done(elapsed);
    });
  });
}

export async function benchStartup(runs = 5): Promise<StartupFigures> {
  const action = resolve('dist/index.js');
  const cli = resolve('dist/cli/index.js');
  const cliTimes: number[] = [];
  const nodeTimes: number[] = [];
  for (let i = 0; i < runs; i++) {
    // Interleaved, so a busy moment of the machine weighs on both alike.
    nodeTimes.push(await timeToFirstLine(['-e', 'console.log(1)']));
    cliTimes.push(await timeToFirstLine([cli, '--help']));
  }
  const cliFirstLineSeconds = median(cliTimes);
  const nodeFirstLineSeconds = median(nodeTimes);
  return {
    actionBytes: statSync(action).size,
    cliBytes: statSync(cli).size,
    cliFirstLineSeconds,
    nodeFirstLineSeconds,
    ratio: cliFirstLineSeconds / nodeFirstLineSeconds,
    runs,
  };
}
