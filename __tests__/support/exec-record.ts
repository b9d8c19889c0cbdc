// Wraps an Exec (the real one, in integration tests) and records every process it runs, so
// a test can assert the exact argv a backend used while the processes really run.
import type { Exec, ExecRequest, ExecResult } from '../../src/builders/types.js';

export interface RecordedRun {
  request: ExecRequest;
  result: ExecResult;
  /** Every output line, not only the tail. */
  lines: string[];
}

export interface RecordingExec {
  exec: Exec;
  runs: RecordedRun[];
  /** `[command, ...args]` of each run, in order. */
  argvs(): string[][];
}

export function recordExec(inner: Exec): RecordingExec {
  const runs: RecordedRun[] = [];
  const exec: Exec = async (request, onLine) => {
    const lines: string[] = [];
    const result = await inner(request, (line) => {
      lines.push(line);
      onLine(line);
    });
    runs.push({ request, result, lines });
    return result;
  };
  return {
    exec,
    runs,
    argvs: () => runs.map((run) => [run.request.command, ...run.request.args]),
  };
}
