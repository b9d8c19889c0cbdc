import { writeFile } from 'node:fs/promises';
import { LocalHost } from './local.js';

let sectionCounter = 0;

// GitLab refuses a dotenv report over 5 KB (and, on some plans, over 20 variables).
const DOTENV_MAX_BYTES = 4800;
const DOTENV_MAX_VALUE = 2000;

/**
 * GitLab CI: collapsible sections in the job log; outputs in a dotenv report
 * (`artifacts: reports: dotenv:`) as far as GitLab's size limits allow, and all of them in
 * a JSON report file.
 */
export class GitlabHost extends LocalHost {
  override readonly platform = 'gitlab' as const;

  constructor(
    private readonly dotenvPath: string | undefined,
    private readonly reportPath?: string,
    out?: (text: string) => void,
    err?: (text: string) => void,
  ) {
    super(out, err);
  }

  override async group<T>(title: string, body: () => Promise<T>): Promise<T> {
    // https://docs.gitlab.com/ci/jobs/job_logs/#custom-collapsible-sections
    const name = `image_builder_${++sectionCounter}`;
    const now = (): number => Math.floor(Date.now() / 1000);
    this.out(
      `\x1b[0Ksection_start:${now()}:${name}[collapsed=true]\r\x1b[0K${this.redact(title)}\n`,
    );
    try {
      return await body();
    } finally {
      this.out(`\x1b[0Ksection_end:${now()}:${name}\r\x1b[0K\n`);
    }
  }

  override async finish(): Promise<void> {
    if (this.reportPath !== undefined) {
      await writeFile(
        this.reportPath,
        `${JSON.stringify(Object.fromEntries(this.outputs), null, 2)}\n`,
      );
    }
    if (this.dotenvPath === undefined) return;
    // dotenv values are single-line: JSON outputs stay on one line as JSON.stringify writes them.
    const lines: string[] = [];
    let bytes = 0;
    for (const [name, value] of this.outputs) {
      const line = `IMAGE_BUILDER_${name.toUpperCase().replace(/-/g, '_')}=${value.replace(/\n/g, ' ')}`;
      if (value.length > DOTENV_MAX_VALUE || bytes + line.length + 1 > DOTENV_MAX_BYTES) {
        // stderr: stdout may be a JSON plan someone pipes on.
        this.err(
          `note: output ${name} is too large for GitLab's dotenv report; it is in ${this.reportPath ?? 'the log'}\n`,
        );
        continue;
      }
      lines.push(line);
      bytes += line.length + 1;
    }
    await writeFile(this.dotenvPath, `${lines.join('\n')}\n`);
  }
}
