// Registry authentication: the WWW-Authenticate challenge (RFC 7235), scopes, and the
// token flows of the distribution token spec
// (https://distribution.github.io/distribution/spec/auth/token/ and .../auth/oauth/).
import type { Credential } from './credentials.js';
import { RegistryError, parseErrorBody } from './errors.js';

export interface Challenge {
  /** Lowercase: `basic`, `bearer`. */
  scheme: string;
  /** Parameter names lowercase: `realm`, `service`, `scope`, `error`. */
  params: Record<string, string>;
}

/**
 * Parses a WWW-Authenticate header value, which may hold several challenges
 * (`Basic realm="x", Bearer realm="y",service="z"`) and quoted values with commas.
 */
export function parseChallenges(header: string | null | undefined): Challenge[] {
  const challenges: Challenge[] = [];
  if (!header) return challenges;
  let i = 0;
  const n = header.length;
  const skipSpace = (): void => {
    while (i < n && /[\s,]/.test(header[i] ?? '')) i++;
  };
  const readToken = (): string => {
    const start = i;
    while (i < n && /[^\s,=]/.test(header[i] ?? '')) i++;
    return header.slice(start, i);
  };
  let current: Challenge | undefined;
  while (i < n) {
    skipSpace();
    const token = readToken();
    if (token === '') break;
    let j = i;
    while (j < n && header[j] === ' ') j++;
    if (header[j] === '=' && current) {
      // a parameter of the current challenge
      i = j + 1;
      while (i < n && header[i] === ' ') i++;
      let value = '';
      if (header[i] === '"') {
        i++;
        while (i < n && header[i] !== '"') {
          if (header[i] === '\\' && i + 1 < n) i++;
          value += header[i];
          i++;
        }
        i++;
      } else {
        const start = i;
        while (i < n && header[i] !== ',') i++;
        value = header.slice(start, i).trim();
      }
      current.params[token.toLowerCase()] = value;
    } else {
      current = { scheme: token.toLowerCase(), params: {} };
      challenges.push(current);
    }
  }
  return challenges;
}

/** The challenge to answer: Bearer when offered, else Basic. */
export function pickChallenge(challenges: readonly Challenge[]): Challenge | undefined {
  return (
    challenges.find((challenge) => challenge.scheme === 'bearer') ??
    challenges.find((challenge) => challenge.scheme === 'basic')
  );
}

/** `repository:<path>:<actions>` — e.g. `repository:acme/api:pull,push`. */
export function repositoryScope(path: string, actions: readonly string[]): string {
  return `repository:${path}:${actions.join(',')}`;
}

/** Scope for reading a repository. */
export function pullScope(path: string): string {
  return repositoryScope(path, ['pull']);
}

/** Scope for writing a repository (a push also reads: blob existence, manifests). */
export function pushScope(path: string): string {
  return repositoryScope(path, ['pull', 'push']);
}

// `type:name:actions`, where the name may itself hold colons (a registry host with a port
// in some token servers' resource names), so the actions are after the last colon.
function splitScope(scope: string): { resource: string; actions: string[] } {
  const last = scope.lastIndexOf(':');
  if (last <= 0) return { resource: scope, actions: [] };
  return {
    resource: scope.slice(0, last),
    actions: scope
      .slice(last + 1)
      .split(',')
      .filter(Boolean),
  };
}

/** Joins scopes naming the same resource and sorts them, so equal needs give equal keys. */
export function mergeScopes(scopes: Iterable<string>): string[] {
  const byResource = new Map<string, Set<string>>();
  for (const scope of scopes) {
    for (const part of scope.split(' ').filter(Boolean)) {
      const { resource, actions } = splitScope(part);
      const set = byResource.get(resource) ?? new Set<string>();
      for (const action of actions) set.add(action);
      byResource.set(resource, set);
    }
  }
  return [...byResource.entries()]
    .map(([resource, actions]) => `${resource}:${[...actions].sort().join(',')}`)
    .sort();
}

/** Whether a token granted for `granted` also serves `wanted`. */
export function scopesCover(granted: readonly string[], wanted: readonly string[]): boolean {
  const have = new Map<string, Set<string>>();
  for (const scope of granted) {
    const { resource, actions } = splitScope(scope);
    have.set(resource, new Set(actions));
  }
  return mergeScopes(wanted).every((scope) => {
    const { resource, actions } = splitScope(scope);
    const set = have.get(resource);
    return set !== undefined && actions.every((action) => set.has(action));
  });
}

export function basicAuthorization(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
}

/** A token's lifetime when the server does not say (token spec: 60 seconds). */
export const DEFAULT_TOKEN_LIFETIME_S = 60;
/** Tokens are renewed this long before they expire, so none expires in flight. */
export const TOKEN_EXPIRY_MARGIN_MS = 10_000;

interface CachedToken {
  scopes: string[];
  token: string;
  /** Epoch ms after which the token is not used any more. */
  usableUntil: number;
}

/**
 * Bearer tokens per registry and scope set, until `expires_in` minus a margin. A token
 * granted for more (`pull,push`) also serves a request that needs less (`pull`).
 */
export class TokenCache {
  private readonly entries = new Map<string, CachedToken[]>();

  constructor(private readonly now: () => number = Date.now) {}

  get(registry: string, scopes: readonly string[]): string | undefined {
    const list = this.entries.get(registry) ?? [];
    const now = this.now();
    const live = list.filter((entry) => entry.usableUntil > now);
    if (live.length !== list.length) this.entries.set(registry, live);
    // Prefer the exact scope set, then the smallest one that covers the request.
    const key = mergeScopes(scopes).join(' ');
    const exact = live.find((entry) => entry.scopes.join(' ') === key);
    if (exact) return exact.token;
    return live
      .filter((entry) => scopesCover(entry.scopes, scopes))
      .sort((a, b) => a.scopes.length - b.scopes.length)[0]?.token;
  }

  set(registry: string, scopes: readonly string[], token: string, expiresInS: number): void {
    const lifetime = Math.max(0, expiresInS) * 1000;
    const margin = Math.min(TOKEN_EXPIRY_MARGIN_MS, lifetime / 2);
    const merged = mergeScopes(scopes);
    const key = merged.join(' ');
    const list = (this.entries.get(registry) ?? []).filter(
      (entry) => entry.scopes.join(' ') !== key,
    );
    list.push({ scopes: merged, token, usableUntil: this.now() + lifetime - margin });
    this.entries.set(registry, list);
  }

  /** Forgets every token of a registry that the registry refused. */
  invalidate(registry: string, token: string): void {
    const list = this.entries.get(registry);
    if (list) {
      this.entries.set(
        registry,
        list.filter((entry) => entry.token !== token),
      );
    }
  }
}

export interface TokenResponse {
  token: string;
  expiresIn: number;
}

/** Reads `token` or `access_token` and `expires_in` from a token server's JSON answer. */
export function parseTokenResponse(body: Buffer | string): TokenResponse | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof body === 'string' ? body : body.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const record = parsed as Record<string, unknown>;
  const token =
    typeof record.token === 'string' && record.token !== ''
      ? record.token
      : typeof record.access_token === 'string' && record.access_token !== ''
        ? record.access_token
        : undefined;
  if (token === undefined) return undefined;
  const expiresIn =
    typeof record.expires_in === 'number' && record.expires_in > 0
      ? record.expires_in
      : DEFAULT_TOKEN_LIFETIME_S;
  return { token, expiresIn };
}

/** What the transport offers the token flow: one HTTP exchange, counted and retried. */
export type TokenSender = (request: {
  method: 'GET' | 'POST';
  url: string;
  headers: Record<string, string>;
  body?: string;
}) => Promise<{ status: number; statusText: string; body: Buffer; attempts: number }>;

/** The client id sent with OAuth2 token requests, as the token spec asks. */
export const CLIENT_ID = 'image-builder';

/**
 * Gets a token from the challenge's realm for these scopes: with an identity token, the
 * OAuth2 refresh-token grant (POST); otherwise a GET with `service` and `scope` params,
 * Basic-authenticated when there are credentials, anonymous when not.
 */
export async function fetchToken(
  send: TokenSender,
  challenge: Challenge,
  scopes: readonly string[],
  credential: Credential | undefined,
): Promise<TokenResponse> {
  const realm = challenge.params.realm;
  if (!realm) {
    throw new RegistryError({
      method: 'GET',
      url: '(no realm)',
      reason: 'the registry asked for a Bearer token without naming a realm',
    });
  }
  const service = challenge.params.service;
  let method: 'GET' | 'POST';
  let url: string;
  const headers: Record<string, string> = { Accept: 'application/json' };
  let body: string | undefined;
  if (credential && 'token' in credential) {
    method = 'POST';
    url = realm;
    const form = new URLSearchParams({ grant_type: 'refresh_token' });
    if (service) form.set('service', service);
    form.set('client_id', CLIENT_ID);
    if (scopes.length > 0) form.set('scope', scopes.join(' '));
    form.set('refresh_token', credential.token);
    body = form.toString();
    headers['Content-Type'] = 'application/x-www-form-urlencoded';
  } else {
    method = 'GET';
    const target = new URL(realm);
    if (service) target.searchParams.set('service', service);
    for (const scope of scopes) target.searchParams.append('scope', scope);
    url = target.toString();
    if (credential)
      headers.Authorization = basicAuthorization(credential.username, credential.password);
  }
  const response = await send({ method, url, headers, ...(body !== undefined ? { body } : {}) });
  if (response.status < 200 || response.status >= 300) {
    throw new RegistryError({
      method,
      url,
      status: response.status,
      errors: parseErrorBody(response.body),
      reason: `token request failed: ${response.statusText}`,
      attempts: response.attempts,
    });
  }
  const parsed = parseTokenResponse(response.body);
  if (!parsed) {
    throw new RegistryError({
      method,
      url,
      status: response.status,
      reason: 'the token server answered without a token or access_token',
    });
  }
  return parsed;
}
