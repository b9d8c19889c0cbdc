import { UserError } from '../core/errors.js';

// One typed settings object for a run, made from the action's inputs or the CLI's argv.

export const COMMANDS = ['plan', 'graph', 'build', 'promote', 'gitlab-pipeline'] as const;
export type Command = (typeof COMMANDS)[number];

export interface Settings {
  command: Command;
  /** The repository to work on (absolute or relative to the working directory). */
  repoDir: string;
  configPath?: string;
  registry?: string;
  /** Build only these images (by name). */
  images?: string[];
  /** Build every image whatever changed. */
  all: boolean;
  /** Local runs: diff against this ref. */
  since?: string;
  /** Changed paths given directly, instead of asking git. */
  changedFiles?: string[];
  /** Print the plan as JSON instead of text. */
  json: boolean;
  graphFormat: 'mermaid' | 'dot';
  /** For the GitHub compare API when git history cannot answer. */
  githubToken?: string;
  /** Builds at once; default: the number of cores. */
  maxParallel?: number;
  /** Credentials for the target registry, from inputs or the environment, never argv. */
  registryUsername?: string;
  registryPassword?: string;
  /** promote: the tag to promote from, and the tags to give the same manifest. */
  promoteFrom?: string;
  promoteTo?: string[];
  /** gitlab-pipeline: the image its jobs run in, and how they run the CLI. */
  jobImage?: string;
  jobCommand?: string;
}

/** A whole number of at least 1, or a message saying what was expected. */
export function parseMaxParallel(text: string, what: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || value < 1) {
    throw new UserError(`${what}: expected a whole number of at least 1, got "${text}"`);
  }
  return value;
}

/** `a, b,,c` → ['a', 'b', 'c']; empty → undefined. */
export function parseList(text: string | undefined): string[] | undefined {
  if (text === undefined) return undefined;
  const items = text
    .split(/[\s,]+/)
    .map((item) => item.trim())
    .filter((item) => item !== '');
  return items.length > 0 ? items : undefined;
}

/** `promote` needs a source tag and at least one target tag; other commands take neither. */
export function promoteSettings(
  from: string | undefined,
  to: string | undefined,
  command: string,
  fromName: string,
  toName: string,
): Pick<Settings, 'promoteFrom' | 'promoteTo'> {
  const targets = parseList(to);
  if (command !== 'promote') {
    if (from || targets)
      throw new UserError(`${fromName} and ${toName} go with the promote command`);
    return {};
  }
  if (!from) throw new UserError(`promote needs ${fromName}: the tag to promote, e.g. staging`);
  if (!targets)
    throw new UserError(`promote needs ${toName}: the tags to give it, e.g. release,latest`);
  return { promoteFrom: from, promoteTo: targets };
}
