import { appendFile } from 'node:fs/promises';
import { LocalHost } from './local.js';

let sectionCounter = 0;

/**
 * GitLab CI: collapsible sections in the job log, and outputs as a dotenv report file
 * (`artifacts: reports: dotenv:`) when IMAGE_BUILDER_DOTENV names one.
 */
export class GitlabHost extends LocalHost {
  override readonly platform = 'gitlab' as const;

  constructor(
    private readonly dotenvPath: string | undefined,
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
    if (this.dotenvPath === undefined) return;
    // dotenv values are single-line: JSON outputs stay on one line as JSON.stringify writes them.
    const lines = [...this.outputs].map(
      ([name, value]) =>
        `IMAGE_BUILDER_${name.toUpperCase().replace(/-/g, '_')}=${value.replace(/\n/g, ' ')}`,
    );
    await appendFile(this.dotenvPath, `${lines.join('\n')}\n`, { mode: 0o600 });
  }
}
