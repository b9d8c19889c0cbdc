import { formatPosition } from '../core/errors.js';
import type { SourcePosition } from '../core/types.js';
import type { Host } from './host.js';

/** A terminal: plain lines on stdout, problems on stderr, outputs kept for the caller. */
export class LocalHost implements Host {
  readonly platform: 'github' | 'gitlab' | 'local' = 'local';
  readonly outputs = new Map<string, string>();
  protected readonly secrets: string[] = [];

  constructor(
    protected readonly out: (text: string) => void = (text) => process.stdout.write(text),
    protected readonly err: (text: string) => void = (text) => process.stderr.write(text),
  ) {}

  protected redact(text: string): string {
    let result = text;
    for (const secret of this.secrets) result = result.split(secret).join('***');
    return result;
  }

  info(line: string): void {
    this.out(`${this.redact(line)}\n`);
  }

  warning(message: string, position?: SourcePosition): void {
    this.err(
      `warning: ${position ? `${formatPosition(position)}: ` : ''}${this.redact(message)}\n`,
    );
  }

  error(message: string, position?: SourcePosition): void {
    this.err(
      `error: ${position && !message.startsWith(formatPosition(position)) ? `${formatPosition(position)}: ` : ''}${this.redact(message)}\n`,
    );
  }

  async group<T>(title: string, body: () => Promise<T>): Promise<T> {
    this.info(`== ${title}`);
    return body();
  }

  setOutput(name: string, value: string): void {
    this.outputs.set(name, value);
  }

  mask(secret: string): void {
    if (secret.length > 0) this.secrets.push(secret);
  }

  async finish(): Promise<void> {}

  // The CLI removes its folders itself, on exit and on SIGINT/SIGTERM.
  removeLater(): void {}

  async summary(): Promise<void> {}
}
