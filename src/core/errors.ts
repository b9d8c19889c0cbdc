import type { SourcePosition } from './types.js';

/**
 * A mistake the user can fix. The entry prints `message` alone (no stack) and, where a
 * position is known, an annotation at that file and line.
 */
export class UserError extends Error {
  readonly position?: SourcePosition;

  constructor(message: string, position?: SourcePosition) {
    super(position ? `${formatPosition(position)}: ${message}` : message);
    this.name = new.target.name;
    this.position = position;
  }
}

/** The config file (or an input) is wrong. */
export class ConfigError extends UserError {}

/** A Dockerfile cannot be understood. */
export class DockerfileError extends UserError {}

/** The CI event or git history cannot be read as expected. */
export class EventError extends UserError {}

/** An image name, repository or tag breaks the OCI distribution grammar, or names collide. */
export class NameError extends UserError {}

/** The image graph is not a DAG. */
export class CycleError extends UserError {
  readonly cycle: string[];

  constructor(cycle: string[]) {
    super(`dependency cycle: ${cycle.join(' -> ')}`);
    this.cycle = cycle;
  }
}

export function formatPosition(position: SourcePosition): string {
  let text = position.file;
  if (position.line !== undefined) text += `:${position.line}`;
  if (position.line !== undefined && position.column !== undefined) text += `:${position.column}`;
  return text;
}

/** Adds what was being done to an error's message, keeping its type and position. */
export function withContext(error: unknown, context: string): Error {
  if (error instanceof Error) {
    error.message = `${context}: ${error.message}`;
    return error;
  }
  return new Error(`${context}: ${String(error)}`);
}
