// Counts the registry requests a run had to retry, so its log can say what a bad day cost:
// a line per retry as it happens, and one total at the end.
import type { RetryInfo } from './transport.js';

export class RetryTally {
  private readonly reasons = new Map<string, number>();
  private count = 0;

  /** Records a retry; returns the line to log for it. */
  record(info: RetryInfo): string {
    const reason =
      info.status !== undefined ? String(info.status) : (info.error ?? 'network error');
    this.count++;
    this.reasons.set(reason, (this.reasons.get(reason) ?? 0) + 1);
    return `registry: ${info.method} ${info.url} got ${reason}; try ${info.attempt + 1} of ${info.attempts} in ${(info.delayMs / 1000).toFixed(1)} s`;
  }

  /** `registry: 12 requests retried (503 ×5, 429 ×4, ECONNRESET ×3)`, or undefined for none. */
  summary(): string | undefined {
    if (this.count === 0) return undefined;
    const parts = [...this.reasons]
      .sort(([a, countA], [b, countB]) => countB - countA || (a < b ? -1 : 1))
      .map(([reason, count]) => `${reason} ×${count}`);
    return `registry: ${this.count} request${this.count === 1 ? '' : 's'} retried (${parts.join(', ')})`;
  }
}
