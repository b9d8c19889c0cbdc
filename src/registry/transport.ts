// The HTTP layer under the registry operations, shaped like go-containerregistry's
// pkg/v1/remote/transport: ping `/v2/` once per registry to learn its challenge, answer it
// (Basic, or a Bearer token per scope), retry what is retryable with backoff, and follow
// redirects without carrying the Authorization header to another host.
import {
  type Challenge,
  TokenCache,
  type TokenSender,
  basicAuthorization,
  fetchToken,
  mergeScopes,
  parseChallenges,
  pickChallenge,
} from './auth.js';
import type { Credential, CredentialStore } from './credentials.js';
import { RegistryError, redactUrl } from './errors.js';

export type FetchFunction = typeof fetch;

export type HttpMethod = 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';

export interface RetryOptions {
  /** Tries in all, the first included (default 10): with one request in five failing, a
   *  run of a thousand requests still meets no request that fails every try. The waits
   *  stay bounded by `maxTotalDelayMs`. */
  attempts?: number;
  /** Backoff base (default 200 ms): attempt n waits up to base·2^(n-1)… */
  baseDelayMs?: number;
  /** …but never more than this (default 2 s). */
  maxDelayMs?: number;
  /** The longest `Retry-After` honoured (default 60 s), so a run cannot hang. */
  maxRetryAfterMs?: number;
  /** The most one request waits in all between its tries (default 60 s). */
  maxTotalDelayMs?: number;
  /** Requests in a row to one host that fail after all their tries before the next ones
   *  get a single try each, until one succeeds (default 2; with ten tries each, one such
   *  request is already rare): a registry that is down ends the run in seconds. */
  giveUpAfter?: number;
  /** Waits between tries (tests pass a fast one). */
  sleep?: (ms: number) => Promise<void>;
  /** In [0, 1): the jitter source. */
  random?: () => number;
}

export interface RetryInfo {
  method: string;
  /** Redacted. */
  url: string;
  /** The try that failed (1-based). */
  attempt: number;
  attempts: number;
  /** How long the next try waits. */
  delayMs: number;
  /** The status that is retried, or undefined for a network error. */
  status?: number;
  /** The network error's code or message. */
  error?: string;
}

export interface TransportOptions {
  credentials: CredentialStore;
  /** Hosts (`host[:port]`) reached over plain HTTP besides loopback ones. */
  insecure?: (host: string) => boolean;
  fetch?: FetchFunction;
  retry?: RetryOptions;
  onRetry?: (info: RetryInfo) => void;
  /** The clock for token lifetimes. */
  now?: () => number;
  /** Default `image-builder`. */
  userAgent?: string;
}

/**
 * A request body: bytes, or a function opening a stream of them (called again for each
 * try, so a large blob is streamed from its file and never held in memory).
 */
export type RequestBody = Buffer | string | (() => AsyncIterable<Uint8Array>);

export interface TransportRequest {
  method: HttpMethod;
  /** The registry host as in a reference (`docker.io`, `127.0.0.1:5000`). */
  registry: string;
  /** A path under the registry (`/v2/a/manifests/latest?x=y`) or an absolute URL (Location). */
  path: string;
  /** What the request needs, e.g. `repository:a:pull,push`; used for Bearer tokens. */
  scopes: readonly string[];
  headers?: Record<string, string>;
  body?: RequestBody;
}

export interface TransportResponse {
  method: HttpMethod;
  /** The URL that answered (after redirects); not redacted — redact before showing. */
  url: string;
  status: number;
  statusText: string;
  headers: Headers;
  body: Buffer;
  /** Tries the last exchange took. */
  attempts: number;
}

const RETRYABLE_STATUS = new Set([429, 500, 502, 503, 504]);
// Errors that say "try again later"; a DNS miss or a bad certificate would not heal.
const RETRYABLE_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);
const MAX_REDIRECTS = 10;
const DEFAULT_USER_AGENT = 'image-builder';

const DEFAULT_RETRY = {
  attempts: 10,
  baseDelayMs: 200,
  maxDelayMs: 2_000,
  maxRetryAfterMs: 60_000,
  maxTotalDelayMs: 60_000,
  giveUpAfter: 2,
};

/** The host name of `host[:port]` / `[v6]:port`, lowercase. */
export function hostnameOf(registry: string): string {
  if (registry.startsWith('[')) {
    const end = registry.indexOf(']');
    return registry.slice(0, end + 1).toLowerCase();
  }
  return (registry.split(':')[0] ?? '').toLowerCase();
}

/** `localhost`, `127.0.0.0/8` and `[::1]`: reached over plain HTTP. */
export function isLoopback(registry: string): boolean {
  const host = hostnameOf(registry);
  if (host === 'localhost' || host === '[::1]') return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** Docker Hub's API lives on another host than its name. */
export function apiHost(registry: string): string {
  return registry === 'docker.io' || registry === 'index.docker.io'
    ? 'registry-1.docker.io'
    : registry;
}

/**
 * Backoff with full jitter (AWS architecture blog, "Exponential Backoff And Jitter"):
 * a random wait in [0, min(cap, base·2^(retry-1))).
 */
export function backoffDelay(
  retry: number,
  options: { baseDelayMs: number; maxDelayMs: number },
  random: () => number,
): number {
  const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** Math.max(0, retry - 1));
  return Math.floor(random() * ceiling);
}

/** `Retry-After` as milliseconds from now: delta-seconds or an HTTP date (RFC 9110 10.2.3). */
export function parseRetryAfter(
  value: string | null,
  now: number = Date.now(),
): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

// Errors from fetch may come from another realm (a vm context, as under jest), where
// `instanceof Error` is false: read them by shape.
interface ErrorLike {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  cause?: unknown;
}

function errorChain(error: unknown): ErrorLike[] {
  const chain: ErrorLike[] = [];
  let current = error;
  while (chain.length < 5 && typeof current === 'object' && current !== null) {
    chain.push(current as ErrorLike);
    current = (current as ErrorLike).cause;
  }
  return chain;
}

function networkErrorCode(error: unknown): string | undefined {
  for (const link of errorChain(error)) if (typeof link.code === 'string') return link.code;
  return undefined;
}

function describeNetworkError(error: unknown): string {
  const parts: string[] = [];
  for (const link of errorChain(error)) {
    const message = typeof link.message === 'string' ? link.message : '';
    const code = typeof link.code === 'string' ? link.code : '';
    const text = code && !message.includes(code) ? `${message} (${code})`.trim() : message;
    if (text && !parts.includes(text)) parts.push(text);
  }
  return parts.join(': ') || String(error);
}

function isRetryableNetworkError(error: unknown): boolean {
  const chain = errorChain(error);
  if (chain.length === 0 || chain[0]?.name === 'AbortError') return false;
  const code = networkErrorCode(error);
  if (code !== undefined) return RETRYABLE_CODES.has(code);
  return chain.some(
    (link) =>
      typeof link.message === 'string' &&
      /fetch failed|socket hang up|other side closed|terminated/i.test(link.message),
  );
}

interface RegistryState {
  /** The answer to the ping: the challenge to meet, or undefined when anonymous works. */
  challenge?: Challenge;
}

/**
 * Sends registry requests. Counts every HTTP exchange (pings, token requests, redirects and
 * retries included) in `requestCount`, so callers can hold operations to a budget.
 */
export class Transport {
  private count = 0;
  private readonly fetchFn: FetchFunction;
  private readonly retry: Required<RetryOptions>;
  private readonly now: () => number;
  private readonly tokens: TokenCache;
  private readonly pings = new Map<string, Promise<RegistryState>>();
  private readonly credentialCache = new Map<string, Promise<Credential | undefined>>();
  private readonly pendingTokens = new Map<string, Promise<string>>();
  /** Per host: requests in a row that failed after all their tries. */
  private readonly failing = new Map<string, { count: number }>();

  constructor(private readonly options: TransportOptions) {
    this.fetchFn = options.fetch ?? ((input, init) => fetch(input, init));
    this.now = options.now ?? Date.now;
    this.tokens = new TokenCache(this.now);
    this.retry = {
      ...DEFAULT_RETRY,
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      random: Math.random,
      ...definedOnly(options.retry ?? {}),
    };
    if (this.retry.attempts < 1) this.retry.attempts = 1;
  }

  /** HTTP requests sent so far, every kind counted. */
  get requestCount(): number {
    return this.count;
  }

  /** `http://host` for loopback and insecure hosts, else `https://host`. */
  baseUrl(registry: string): string {
    const insecure = isLoopback(registry) || (this.options.insecure?.(registry) ?? false);
    return `${insecure ? 'http' : 'https'}://${apiHost(registry)}`;
  }

  /**
   * Sends one registry request, authenticated as the registry asks, and returns whatever
   * status it ends with; throws RegistryError only when no response came at all.
   */
  async request(request: TransportRequest): Promise<TransportResponse> {
    const state = await this.ping(request.registry);
    const base = this.baseUrl(request.registry);
    const url = /^https?:\/\//i.test(request.path) ? request.path : `${base}${request.path}`;
    let scopes = mergeScopes(request.scopes);
    let forceNewToken = false;
    let answeredChallenge = false;
    for (;;) {
      const authorization = await this.authorization(
        request.registry,
        state,
        scopes,
        forceNewToken,
      );
      const response = await this.sendFollowing(request, url, new URL(base).origin, authorization);
      if (response.status !== 401 || answeredChallenge) return response;
      const challenge = pickChallenge(parseChallenges(response.headers.get('www-authenticate')));
      if (!challenge) return response;
      const before = state.challenge;
      if (challenge.scheme === 'bearer') {
        // The registry names the scope it wants (and says insufficient_scope or
        // invalid_token): get one fresh token for everything asked so far, once.
        if (authorization?.startsWith('Bearer ')) {
          this.tokens.invalidate(request.registry, authorization.slice('Bearer '.length));
        }
        state.challenge = {
          scheme: 'bearer',
          params: { ...(before?.scheme === 'bearer' ? before.params : {}), ...challenge.params },
        };
        delete state.challenge.params.scope;
        delete state.challenge.params.error;
        if (challenge.params.scope) scopes = mergeScopes([...scopes, challenge.params.scope]);
        forceNewToken = true;
      } else if (challenge.scheme === 'basic' && before?.scheme !== 'basic') {
        // The ping let us in anonymously, this resource does not: send credentials.
        state.challenge = challenge;
        if (!(await this.credentialsFor(request.registry))) return response;
      } else {
        return response;
      }
      answeredChallenge = true;
    }
  }

  /** The challenge the registry's `/v2/` answers with, learned once per registry. */
  private ping(registry: string): Promise<RegistryState> {
    let pending = this.pings.get(registry);
    if (!pending) {
      pending = (async () => {
        const url = `${this.baseUrl(registry)}/v2/`;
        const response = await this.sendFollowing({ method: 'GET' }, url, '', undefined);
        if (response.status === 401) {
          const challenge = pickChallenge(
            parseChallenges(response.headers.get('www-authenticate')),
          );
          return challenge ? { challenge } : {};
        }
        if (response.status >= 500) {
          throw new RegistryError({
            method: 'GET',
            url,
            status: response.status,
            reason: response.statusText,
            attempts: response.attempts,
          });
        }
        // 200, or a registry that hides /v2/ (404…): no challenge until a request meets one.
        return {};
      })();
      pending.catch(() => this.pings.delete(registry));
      this.pings.set(registry, pending);
    }
    return pending;
  }

  private credentialsFor(registry: string): Promise<Credential | undefined> {
    let pending = this.credentialCache.get(registry);
    if (!pending) {
      pending = this.options.credentials.get(registry);
      pending.catch(() => this.credentialCache.delete(registry));
      this.credentialCache.set(registry, pending);
    }
    return pending;
  }

  private async authorization(
    registry: string,
    state: RegistryState,
    scopes: string[],
    forceNewToken: boolean,
  ): Promise<string | undefined> {
    const challenge = state.challenge;
    if (!challenge) return undefined;
    const credential = await this.credentialsFor(registry);
    if (challenge.scheme === 'basic') {
      if (!credential) return undefined;
      return 'token' in credential
        ? `Bearer ${credential.token}`
        : basicAuthorization(credential.username, credential.password);
    }
    if (challenge.scheme !== 'bearer') return undefined;
    if (!forceNewToken) {
      const cached = this.tokens.get(registry, scopes);
      if (cached) return `Bearer ${cached}`;
    }
    // The realm's own credentials go only to the realm's origin, like any Authorization.
    const sender: TokenSender = ({ method, url, headers, body }) => {
      const { Authorization: realmAuthorization, ...rest } = headers;
      return this.sendFollowing(
        { method, headers: rest, ...(body !== undefined ? { body } : {}) },
        url,
        new URL(url).origin,
        realmAuthorization,
      );
    };
    // Requests running in parallel for the same scopes share one token request.
    const key = `${registry} ${scopes.join(' ')}`;
    let pending = forceNewToken ? undefined : this.pendingTokens.get(key);
    if (!pending) {
      pending = fetchToken(sender, challenge, scopes, credential).then(({ token, expiresIn }) => {
        this.tokens.set(registry, scopes, token, expiresIn);
        return token;
      });
      const settled = pending;
      this.pendingTokens.set(key, settled);
      const forget = (): void => {
        if (this.pendingTokens.get(key) === settled) this.pendingTokens.delete(key);
      };
      settled.then(forget, forget);
    }
    return `Bearer ${await pending}`;
  }

  /**
   * Sends, following redirects by hand: fetch would forward the Authorization header to
   * whatever host a redirect names (pre-signed storage URLs must not see it).
   */
  private async sendFollowing(
    request: { method: HttpMethod; headers?: Record<string, string>; body?: RequestBody },
    url: string,
    authOrigin: string,
    authorization: string | undefined,
  ): Promise<TransportResponse> {
    let method = request.method;
    let body = request.body;
    let current = url;
    for (let hop = 0; ; hop++) {
      const headers: Record<string, string> = { ...request.headers };
      headers['User-Agent'] = this.options.userAgent ?? DEFAULT_USER_AGENT;
      if (authorization && new URL(current).origin === authOrigin) {
        headers.Authorization = authorization;
      }
      if (body === undefined) {
        // A redirect that drops the body (303) drops what described it.
        delete headers['Content-Type'];
        delete headers['Content-Length'];
      }
      const response = await this.send(method, current, headers, body);
      const location = response.headers.get('location');
      if (![301, 302, 303, 307, 308].includes(response.status) || !location) return response;
      if (hop >= MAX_REDIRECTS) {
        throw new RegistryError({ method, url: current, reason: 'too many redirects' });
      }
      if (
        response.status === 303 ||
        ((response.status === 301 || response.status === 302) && method === 'POST')
      ) {
        if (method !== 'HEAD') method = 'GET';
        body = undefined;
      }
      current = new URL(location, current).toString();
    }
  }

  /** One exchange with retries; the body is read here, so a cut body is retried too. */
  private async send(
    method: HttpMethod,
    url: string,
    headers: Record<string, string>,
    body?: RequestBody,
  ): Promise<TransportResponse> {
    const host = new URL(url).host;
    const failing = this.failing.get(host);
    // A host whose last requests all failed every try gets one try per request until one
    // succeeds: a registry that is down ends the run in seconds, one that comes back is used.
    const degraded = failing !== undefined && failing.count >= this.retry.giveUpAfter;
    const attempts = degraded ? 1 : this.retry.attempts;
    const gaveUp = (): void => {
      this.failing.set(host, { count: (this.failing.get(host)?.count ?? 0) + 1 });
    };
    const degradedError = (reason: string): RegistryError =>
      new RegistryError({
        method,
        url,
        reason: `${reason} (not retried: the last ${failing?.count ?? 0} requests to ${host} failed after ${this.retry.attempts} tries each)`,
      });
    let waited = 0;
    for (let attempt = 1; ; attempt++) {
      let response: TransportResponse | undefined;
      let failure: unknown;
      let payload: Buffer | string | AsyncIterable<Uint8Array> | undefined;
      this.count++;
      try {
        payload = typeof body === 'function' ? body() : body;
        const answer = await this.fetchFn(url, {
          method,
          headers,
          redirect: 'manual',
          ...(payload !== undefined ? { body: payload as NonNullable<RequestInit['body']> } : {}),
          // A stream is sent as it is read (fetch requires saying so).
          ...(typeof body === 'function' ? ({ duplex: 'half' } as RequestInit) : {}),
        });
        const bytes = method === 'HEAD' ? Buffer.alloc(0) : Buffer.from(await answer.arrayBuffer());
        response = {
          method,
          url,
          status: answer.status,
          statusText: answer.statusText,
          headers: answer.headers,
          body: bytes,
          attempts: attempt,
        };
      } catch (error) {
        failure = error;
      } finally {
        // A server may answer before reading a streamed body (503, 401, a redirect):
        // the file stays open unless closed here.
        const stream = payload as { destroy?: () => void } | undefined;
        if (typeof stream?.destroy === 'function') stream.destroy();
      }
      const retryable = response
        ? RETRYABLE_STATUS.has(response.status)
        : isRetryableNetworkError(failure);
      const retryAfter = response
        ? parseRetryAfter(response.headers.get('retry-after'), this.now())
        : undefined;
      const delayMs =
        retryAfter !== undefined
          ? Math.min(retryAfter, this.retry.maxRetryAfterMs)
          : backoffDelay(attempt, this.retry, this.retry.random);
      const last =
        !retryable || attempt >= attempts || waited + delayMs > this.retry.maxTotalDelayMs;
      if (last) {
        // Only a request that used all its tries counts as given up (not one cut short
        // by a long Retry-After).
        const exhausted = retryable && attempt >= attempts;
        if (response) {
          const status = `${response.status} ${response.statusText}`.trim();
          if (!retryable) this.failing.delete(host);
          else if (degraded) throw degradedError(status);
          else if (exhausted) gaveUp();
          return response;
        }
        const reason = describeNetworkError(failure);
        if (degraded && retryable) throw degradedError(reason);
        if (exhausted) gaveUp();
        throw new RegistryError({ method, url, reason, attempts: attempt });
      }
      this.options.onRetry?.({
        method,
        url: redactUrl(url),
        attempt,
        attempts,
        delayMs,
        ...(response ? { status: response.status } : {}),
        ...(failure !== undefined
          ? { error: networkErrorCode(failure) ?? describeNetworkError(failure) }
          : {}),
      });
      waited += delayMs;
      await this.retry.sleep(delayMs);
    }
  }
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
