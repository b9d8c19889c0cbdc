import type { SourcePosition } from '../core/types.js';

/** The CI platform port: everything a run tells the outside world goes through it. */
export interface Host {
  readonly platform: 'github' | 'gitlab' | 'local';
  info(line: string): void;
  warning(message: string, position?: SourcePosition): void;
  error(message: string, position?: SourcePosition): void;
  /** Output collapsed under a title (a log group or section). */
  group<T>(title: string, body: () => Promise<T>): Promise<T>;
  setOutput(name: string, value: string): void;
  /** Hides a secret in every later log line. */
  mask(secret: string): void;
  /** Writes what outputs and reports need at the end of a run (files, summaries). */
  finish(): Promise<void>;
  /**
   * A private folder the run removes itself; where the platform has a post step (GitHub),
   * that step removes it too in case the run was killed first.
   */
  removeLater(folder: string): void;
  /** A markdown report of the run (GitHub's job summary; elsewhere nothing). */
  summary(markdown: string): Promise<void>;
}
