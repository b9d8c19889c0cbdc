import { NameError } from './errors.js';
import { validateTag } from './reference.js';
import type { CiEvent } from './types.js';

/**
 * GitLab's CI_COMMIT_REF_SLUG, exactly: lowercase; every character outside [a-z0-9] becomes
 * one `-` (runs are not collapsed); the first 63 characters; leading and trailing `-` removed.
 * (Gitlab::Utils.slugify without dots.)
 */
export function refSlug(ref: string): string {
  return Array.from(ref.toLowerCase(), (char) => (/[a-z0-9]/.test(char) ? char : '-'))
    .slice(0, 63)
    .join('')
    .replace(/^-+|-+$/g, '');
}

/** Whether `latest` (and other default-branch tags) may move for this event. */
export function isDefaultBranchBuild(event: CiEvent): boolean {
  if (event.refType !== 'branch') return false;
  if (event.kind === 'pull_request' || event.kind === 'merge_group') return false;
  return event.defaultBranch !== undefined && event.refName === event.defaultBranch;
}

export interface TagContext {
  event: CiEvent;
  shaShortLength: number;
  /** When the run started; `{{date}}` and `{{timestamp}}` come from it (UTC). */
  now: Date;
}

export const MOVING_TAG_RULES = new Set(['latest']);

function pad(value: number): string {
  return String(value).padStart(2, '0');
}

function templateValues(context: TagContext): Record<string, string> {
  const { event, now } = context;
  const date = `${now.getUTCFullYear()}${pad(now.getUTCMonth() + 1)}${pad(now.getUTCDate())}`;
  return {
    sha: event.sha,
    'sha-short': event.sha.slice(0, context.shaShortLength),
    branch: event.refType === 'branch' ? event.refName : '',
    tag: event.refType === 'tag' ? event.refName : '',
    ref: event.refName,
    'ref-slug': refSlug(event.refName),
    date,
    timestamp: `${date}${pad(now.getUTCHours())}${pad(now.getUTCMinutes())}${pad(now.getUTCSeconds())}`,
  };
}

/** One rule to the tag it gives for this event, or undefined when it gives none. */
function tagForRule(rule: string, context: TagContext): string | undefined {
  const values = templateValues(context);
  switch (rule) {
    case 'sha':
      return values.sha;
    case 'sha-short':
      return values['sha-short'];
    case 'ref-slug':
      return values['ref-slug'] || undefined;
    case 'latest':
      return isDefaultBranchBuild(context.event) ? 'latest' : undefined;
  }
  if (!rule.includes('{{')) return rule;
  let empty = false;
  const text = rule.replace(/\{\{\s*([a-z-]+)\s*\}\}/g, (_whole, key: string) => {
    const value = values[key];
    if (value === undefined) {
      throw new NameError(
        `tag rule "${rule}": unknown placeholder {{${key}}} (known: ${Object.keys(values).join(', ')})`,
      );
    }
    if (value === '') empty = true;
    return value;
  });
  // A template about a tag gives nothing on a branch build, and the other way round.
  return empty ? undefined : text;
}

/**
 * Tags for one image: the immutable sha tag first (it is pushed first; the rest are added
 * to the same manifest), no duplicates, every tag checked against the OCI grammar.
 */
export function computeTags(
  image: string,
  rules: readonly string[],
  context: TagContext,
): string[] {
  const tags: string[] = [];
  for (const rule of rules) {
    const tag = tagForRule(rule, context);
    if (tag === undefined || tags.includes(tag)) continue;
    const problem = validateTag(tag);
    if (problem !== undefined) {
      throw new NameError(`image "${image}": tag rule "${rule}" gives ${problem}`);
    }
    tags.push(tag);
  }
  const shaIndex = tags.indexOf(context.event.sha);
  if (shaIndex > 0) tags.unshift(...tags.splice(shaIndex, 1));
  return tags;
}
