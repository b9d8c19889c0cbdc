import { ConfigError } from './errors.js';
import type { Config } from './types.js';

/**
 * A CI user name as a repository-name component: lowercase, and every run of characters
 * outside [a-z0-9] as one `-` (user names may hold `.`, `_`, `[bot]`, unicode…).
 */
export function userChannelName(user: string): string {
  return user
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

/** The repository prefix for this run: the literal prefix, or one derived from the channel. */
export function resolvePrefix(config: Config, actor: string | undefined): string {
  if (config.prefix !== '' || config.channel !== 'user') return config.prefix;
  const name = userChannelName(actor ?? '');
  if (name === '') {
    throw new ConfigError(
      'channel: user needs the CI user (GITHUB_ACTOR, GITLAB_USER_LOGIN or the local user name)' +
        (actor ? `, and "${actor}" has no letter or digit to make a channel name from` : ''),
      config.file !== undefined ? { file: config.file } : undefined,
    );
  }
  return `${name}-`;
}
