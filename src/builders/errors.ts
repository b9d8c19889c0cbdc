import { UserError } from '../core/errors.js';

/** How many of the last output lines go into the message (all of the tail stays on the error). */
const MESSAGE_LINES = 10;

export interface BuildErrorDetails {
  /** Image name. */
  image: string;
  action: 'building' | 'pushing';
  /** Where a push went. */
  destination?: string;
  command: string;
  args: readonly string[];
  exitCode: number;
  /** The last lines of output of the failing process. */
  tail: readonly string[];
}

/**
 * A build or push process failed. Carries the image, the command line (argv only ever holds
 * paths and names, never secrets, so it is safe to print) and the end of the output.
 */
export class BuildError extends UserError {
  readonly image: string;
  /** The failing command line, quoted so that it can be pasted into a shell. */
  readonly command: string;
  readonly exitCode: number;
  readonly tail: readonly string[];

  constructor(details: BuildErrorDetails) {
    const lines = details.tail.filter((line) => line.trim() !== '').slice(-MESSAGE_LINES);
    super(
      `${details.action} ${details.image}` +
        (details.destination !== undefined ? ` to ${details.destination}` : '') +
        ` failed (exit ${details.exitCode})` +
        (lines.length > 0 ? `:\n${lines.join('\n')}` : ''),
    );
    this.image = details.image;
    this.command = formatCommand(details.command, details.args);
    this.exitCode = details.exitCode;
    this.tail = [...details.tail];
  }
}

const PLAIN_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** A command line for people: each argument single-quoted when a shell would split or expand it. */
export function formatCommand(command: string, args: readonly string[]): string {
  return [command, ...args]
    .map((word) => (PLAIN_WORD.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`))
    .join(' ');
}
