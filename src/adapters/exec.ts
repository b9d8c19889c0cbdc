import { spawn } from 'node:child_process';
import type { Exec, ExecRequest, ExecResult } from '../builders/types.js';

const TAIL_LINES = 30;

/**
 * Runs a process without a shell, streaming each output line to `onLine` and keeping the
 * last lines for the error message. A process that cannot start resolves with exit code
 * 127 and the reason as its output, like a shell would say "command not found".
 */
export const exec: Exec = (
  request: ExecRequest,
  onLine: (line: string) => void,
): Promise<ExecResult> =>
  new Promise((resolve) => {
    const tail: string[] = [];
    const emit = (line: string): void => {
      tail.push(line);
      if (tail.length > TAIL_LINES) tail.shift();
      onLine(line);
    };
    const child = spawn(request.command, [...request.args], {
      cwd: request.cwd,
      env: { ...process.env, ...request.env },
      stdio: [request.input !== undefined ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
    const buffers = { stdout: '', stderr: '' };
    const reader = (stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
      const text = buffers[stream] + chunk.toString('utf8');
      const lines = text.split(/\r?\n/);
      buffers[stream] = lines.pop() ?? '';
      for (const line of lines) emit(line);
    };
    child.stdout?.on('data', reader('stdout'));
    child.stderr?.on('data', reader('stderr'));
    if (request.input !== undefined) child.stdin?.end(request.input);
    child.once('error', (error) => {
      emit(`${request.command}: ${error.message}`);
      resolve({ exitCode: 127, tail });
    });
    child.once('close', (code, signal) => {
      for (const rest of [buffers.stdout, buffers.stderr]) if (rest !== '') emit(rest);
      resolve({ exitCode: code ?? (signal ? 128 : 1), tail });
    });
  });
