// Input, output and state names in one place; action.yml uses the same words.

export const INPUTS = {
  command: 'command',
  config: 'config',
  registry: 'registry',
  images: 'images',
  all: 'all',
  workingDirectory: 'working-directory',
  graphFormat: 'graph-format',
  githubToken: 'github-token',
} as const;

export const OUTPUTS = {
  plan: 'plan',
  affected: 'affected',
  matrix: 'matrix',
} as const;

export const STATE = {
  isPost: 'isPost',
} as const;
