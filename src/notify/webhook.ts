// The generic JSON webhook, and the small HTTP sender both notifiers share: one POST with a
// timeout, one retry on a 5xx, a 429 or a network error, and failure messages that never
// carry a URL or a secret.
import { createHmac } from 'node:crypto';
import type { Plan } from '../core/plan.js';
import type { BuildOutcome } from '../build/run-build.js';

/** What the plan does not know about the run: where it lives, for links. */
export interface MessageContext {
  /** `owner/name` (GitHub) or the project path (GitLab). */
  repository?: string;
  /** The CI run or pipeline page. */
  runUrl?: string;
}

export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

export interface SendOptions {
  fetch: FetchLike;
  /** Per attempt, covering the answer's body too. */
  timeoutMs: number;
  /** Wait before the one retry. */
  retryDelayMs: number;
  /** Strings that must never appear in an error message. */
  secrets: readonly string[];
}

export const DEFAULT_TIMEOUT_MS = 10_000;
export const DEFAULT_RETRY_DELAY_MS = 1_000;
/** The longest a 429's Retry-After is honoured before the retry. */
const MAX_RETRY_AFTER_MS = 5_000;
const BODY_EXCERPT = 200;

/** A notification that could not be delivered; its message is safe to log. */
export class NotifyError extends Error {
  override readonly name = 'NotifyError';
}

/** Hides every secret and every URL in a message meant for the log. */
export function redact(text: string, secrets: readonly string[]): string {
  let safe = text;
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) {
    if (secret.length >= 4) safe = safe.split(secret).join('***');
  }
  return safe.replace(/\bhttps?:\/\/[^\s"'<>]*/gi, '<url>');
}

/** Errors from fetch may come from another realm (jest's vm): read them by shape. */
function errorParts(error: unknown): { name: string; message: string; cause?: unknown } {
  if (typeof error === 'object' && error !== null && 'message' in error) {
    const { name, message, cause } = error as {
      name?: unknown;
      message?: unknown;
      cause?: unknown;
    };
    return { name: String(name ?? ''), message: String(message), cause };
  }
  return { name: '', message: String(error) };
}

function describeNetworkError(error: unknown): string {
  const { message, cause } = errorParts(error);
  const detail = cause !== undefined ? ` (${errorParts(cause).message})` : '';
  return `${message}${detail}`;
}

function isTimeout(error: unknown): boolean {
  const { name } = errorParts(error);
  return name === 'TimeoutError' || name === 'AbortError';
}

function retryAfterMs(response: Response, fallback: number): number {
  const header = response.headers.get('retry-after');
  const seconds = header !== null ? Number(header) : NaN;
  if (!Number.isFinite(seconds) || seconds < 0) return fallback;
  return Math.min(seconds * 1000, MAX_RETRY_AFTER_MS);
}

const sleep = (ms: number) =>
  ms > 0 ? new Promise<void>((resolve) => setTimeout(resolve, ms)) : Promise.resolve();

export interface Delivered {
  status: number;
  body: string;
}

/**
 * POSTs `body` to `url`. Resolves with a 2xx answer; throws a NotifyError otherwise. A timeout
 * is not retried: the receiver may have the message already, and a build should not wait on
 * a chat server twice.
 */
export async function post(
  url: string,
  body: string,
  headers: Record<string, string>,
  options: SendOptions,
): Promise<Delivered> {
  const safe = (text: string) => redact(text, options.secrets);
  let failure = '';
  for (let attempt = 1; attempt <= 2; attempt++) {
    let delay = options.retryDelayMs;
    try {
      const response = await options.fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
        body,
        redirect: 'error',
        signal: AbortSignal.timeout(options.timeoutMs),
      });
      const text = await response.text();
      if (response.ok) return { status: response.status, body: text };
      const excerpt = text.trim().slice(0, BODY_EXCERPT);
      failure = `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}${
        excerpt ? `: ${excerpt}` : ''
      }`;
      if (response.status < 500 && response.status !== 429) throw new NotifyError(safe(failure));
      if (response.status === 429) delay = retryAfterMs(response, delay);
    } catch (error) {
      if (error instanceof NotifyError) throw error;
      if (isTimeout(error)) {
        throw new NotifyError(`no answer within ${options.timeoutMs / 1000} s`);
      }
      failure = describeNetworkError(error);
    }
    if (attempt === 1) await sleep(delay);
  }
  throw new NotifyError(`${safe(failure)} (tried twice)`);
}

export interface WebhookImage {
  name: string;
  status: string;
  repository: string;
  digest: string | null;
  tags: string[];
  detail: string | null;
}

export interface WebhookPayload {
  version: 1;
  ok: boolean;
  event: {
    platform: string;
    kind: string;
    sourceEvent: string;
    ref: string;
    refType: string;
    sha: string;
    isDefaultBranch: boolean;
    repository?: string;
    runUrl?: string;
  };
  images: WebhookImage[];
  /** Moving tags not moved because some image failed. */
  heldBack: string[];
}

/** The JSON the generic webhook receives; its shape changes only with `version`. */
export function webhookPayload(
  plan: Plan,
  outcome: BuildOutcome,
  context: MessageContext = {},
): WebhookPayload {
  const { event } = plan;
  return {
    version: 1,
    ok: outcome.ok,
    event: {
      platform: event.platform,
      kind: event.kind,
      sourceEvent: event.sourceEvent,
      ref: event.ref,
      refType: event.refType,
      sha: event.sha,
      isDefaultBranch: event.isDefaultBranch,
      ...(context.repository !== undefined ? { repository: context.repository } : {}),
      ...(context.runUrl !== undefined ? { runUrl: context.runUrl } : {}),
    },
    images: outcome.images.map((image) => ({
      name: image.name,
      status: image.status,
      repository: image.repository,
      digest: image.digest ?? null,
      tags: image.tags,
      detail: image.detail ?? null,
    })),
    heldBack: outcome.heldBack,
  };
}

export const SIGNATURE_HEADER = 'X-Image-Builder-Signature';

/** `sha256=<hex>` of the exact body bytes, keyed with the shared secret. */
export function signature(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;
}

export interface WebhookTarget {
  url: string;
  /** When set, the body is signed in the X-Image-Builder-Signature header. */
  secret?: string;
}

export async function sendWebhook(
  target: WebhookTarget,
  payload: WebhookPayload,
  options: SendOptions,
): Promise<void> {
  const body = JSON.stringify(payload);
  const headers: Record<string, string> = {
    'user-agent': 'image-builder',
    'x-image-builder-event': 'build',
  };
  if (target.secret !== undefined) headers[SIGNATURE_HEADER] = signature(body, target.secret);
  await post(target.url, body, headers, options);
}
