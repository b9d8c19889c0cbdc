// One typed settings object for a run, made from the action's inputs or the CLI's argv.

export const COMMANDS = ['plan', 'graph'] as const;
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
