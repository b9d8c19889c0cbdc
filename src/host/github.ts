import * as core from '@actions/core';
import type { SourcePosition } from '../core/types.js';
import type { Host } from './host.js';
import { STATE } from '../names.js';

function annotation(position?: SourcePosition): core.AnnotationProperties | undefined {
  if (!position) return undefined;
  return {
    file: position.file,
    ...(position.line !== undefined ? { startLine: position.line } : {}),
    ...(position.column !== undefined ? { startColumn: position.column } : {}),
  };
}

/** GitHub Actions: workflow commands through @actions/core. */
export class GithubHost implements Host {
  readonly platform = 'github' as const;

  info(line: string): void {
    core.info(line);
  }

  warning(message: string, position?: SourcePosition): void {
    core.warning(message, annotation(position));
  }

  error(message: string, position?: SourcePosition): void {
    core.error(message, annotation(position));
  }

  group<T>(title: string, body: () => Promise<T>): Promise<T> {
    return core.group(title, body);
  }

  setOutput(name: string, value: string): void {
    core.setOutput(name, value);
  }

  mask(secret: string): void {
    core.setSecret(secret);
  }

  async finish(): Promise<void> {}

  async summary(markdown: string): Promise<void> {
    if (!process.env.GITHUB_STEP_SUMMARY) return;
    await core.summary.addRaw(markdown, true).write();
  }

  private readonly folders: string[] = [];

  removeLater(folder: string): void {
    this.folders.push(folder);
    core.saveState(STATE.cleanup, JSON.stringify(this.folders));
  }
}
