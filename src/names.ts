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
  maxParallel: 'max-parallel',
  registryUsername: 'registry-username',
  registryPassword: 'registry-password',
  promoteFrom: 'promote-from',
  promoteTo: 'promote-to',
} as const;

export const OUTPUTS = {
  plan: 'plan',
  affected: 'affected',
  matrix: 'matrix',
  matrices: 'matrices',
  images: 'images',
  built: 'built',
  skipped: 'skipped',
  failed: 'failed',
  promoted: 'promoted',
} as const;

export const STATE = {
  isPost: 'isPost',
  cleanup: 'cleanup',
} as const;
