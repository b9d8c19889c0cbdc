// Errors from the OCI distribution API, carrying what the registry said: the HTTP status and
// the codes of its error body (distribution spec, "Error Codes":
// https://github.com/opencontainers/distribution-spec/blob/main/spec.md#error-codes).
import { STATUS_CODES } from 'node:http';
import { UserError } from '../core/errors.js';
import type { TransportResponse } from './transport.js';

/** One entry of the registry's `{"errors":[…]}` body. */
export interface RegistryErrorEntry {
  code: string;
  message: string;
  detail?: unknown;
}

export interface RegistryErrorInit {
  method: string;
  /** The request URL; stored and shown redacted. */
  url: string;
  /** The HTTP status, or undefined when no response came (network error). */
  status?: number;
  errors?: readonly RegistryErrorEntry[];
  /** What went wrong when the body has no error codes (a status text, a network error…). */
  reason?: string;
  /** How many times the request was sent, when more than once. */
  attempts?: number;
}

/**
 * A registry request failed. The message reads like
 * `PUT http://127.0.0.1:5000/v2/a/manifests/latest: 400 MANIFEST_INVALID: manifest invalid`;
 * the URL never carries credentials or tokens.
 */
export class RegistryError extends UserError {
  readonly status: number | undefined;
  readonly errors: readonly RegistryErrorEntry[];
  readonly method: string;
  readonly url: string;
  readonly attempts: number;

  constructor(init: RegistryErrorInit) {
    const url = redactUrl(init.url);
    super(`${init.method} ${url}: ${describe(init)}`);
    this.status = init.status;
    this.errors = init.errors ?? [];
    this.method = init.method;
    this.url = url;
    this.attempts = init.attempts ?? 1;
  }

  /** The registry's error codes, e.g. `["MANIFEST_UNKNOWN"]`. */
  get codes(): string[] {
    return this.errors.map((entry) => entry.code);
  }

  /** The first error code, if the registry sent any. */
  get code(): string | undefined {
    return this.errors[0]?.code;
  }
}

function describe(init: RegistryErrorInit): string {
  const parts: string[] = [];
  if (init.status !== undefined) parts.push(String(init.status));
  const entries = (init.errors ?? []).map((entry) =>
    entry.message ? `${entry.code}: ${entry.message}` : entry.code,
  );
  if (entries.length > 0) {
    parts.push(entries.join('; '));
  } else {
    const reason =
      init.reason ?? (init.status !== undefined ? STATUS_CODES[init.status] : undefined);
    if (reason) parts.push(reason);
  }
  let text = parts.join(' ') || 'request failed';
  if (init.attempts !== undefined && init.attempts > 1)
    text += ` (after ${init.attempts} attempts)`;
  return text;
}

/**
 * Reads the error codes of a registry response body: the distribution `{"errors":[…]}`
 * shape, and the `{"details":"…"}` / `{"error":"…"}` shapes some token servers use.
 * Anything else yields no entries.
 */
export function parseErrorBody(body: Buffer | string): RegistryErrorEntry[] {
  const text = typeof body === 'string' ? body : body.toString('utf8');
  if (text.trim() === '') return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return [];
  }
  if (typeof parsed !== 'object' || parsed === null) return [];
  const record = parsed as Record<string, unknown>;
  if (Array.isArray(record.errors)) {
    const entries: RegistryErrorEntry[] = [];
    for (const item of record.errors) {
      if (typeof item !== 'object' || item === null) continue;
      const { code, message, detail } = item as Record<string, unknown>;
      if (typeof code !== 'string') continue;
      const entry: RegistryErrorEntry = {
        code,
        message: typeof message === 'string' ? message : '',
      };
      if (detail !== undefined) entry.detail = detail;
      entries.push(entry);
    }
    return entries;
  }
  for (const key of ['details', 'error_description', 'error']) {
    const value = record[key];
    if (typeof value === 'string' && value !== '') return [{ code: 'ERROR', message: value }];
  }
  return [];
}

// Query parameters that carry secrets: OAuth tokens, and the signatures of pre-signed
// storage URLs (S3, GCS, Azure) that registries redirect blob downloads to.
const SECRET_PARAM =
  /token|password|passwd|secret|signature|credential|^sig$|^se$|^key$|^code$|^verify$|^_state$|^x-amz-|^x-goog-/i;

/**
 * The URL without its user info and with secret-looking query values replaced by
 * `REDACTED`. Text that is not a URL is returned unchanged.
 */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return url;
  }
  let changed = false;
  if (parsed.username || parsed.password) {
    parsed.username = '';
    parsed.password = '';
    changed = true;
  }
  for (const name of [...new Set(parsed.searchParams.keys())]) {
    if (!SECRET_PARAM.test(name)) continue;
    const values = parsed.searchParams.getAll(name);
    parsed.searchParams.delete(name);
    for (let i = 0; i < values.length; i++) parsed.searchParams.append(name, 'REDACTED');
    changed = true;
  }
  return changed ? parsed.toString() : url;
}

/** The error for a registry answer that was not what the operation needed. */
export function errorFromResponse(response: TransportResponse, reason?: string): RegistryError {
  return new RegistryError({
    method: response.method,
    url: response.url,
    status: response.status,
    errors: parseErrorBody(response.body),
    reason: reason ?? response.statusText,
    attempts: response.attempts,
  });
}
