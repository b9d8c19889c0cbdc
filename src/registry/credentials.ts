// Where registry credentials come from: explicit inputs, the Docker config file
// (`auths`, `credHelpers`, `credsStore`, as the Docker CLI reads them in cli/config/configfile),
// and the docker-credential-helpers protocol
// (https://github.com/docker/docker-credential-helpers#development: `<helper> get` with the
// server URL on stdin, `{"ServerURL","Username","Secret"}` on stdout).
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { exec as defaultExec } from '../adapters/exec.js';
import type { Exec } from '../builders/types.js';
import { ConfigError, UserError } from '../core/errors.js';

/** A user and password (Basic, or exchanged for a token), or an identity (refresh) token. */
export type Credential = { username: string; password: string } | { token: string };

export interface CredentialStore {
  /** Credentials for a registry host (`ghcr.io`, `127.0.0.1:5000`, `docker.io`), if any. */
  get(host: string): Promise<Credential | undefined>;
}

/** The key Docker uses for Docker Hub in `auths` and asks credential helpers about. */
export const DOCKER_HUB_AUTH_KEY = 'https://index.docker.io/v1/';

const HUB_HOSTS = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

/**
 * The host part of a registry name or of an `auths` key such as `https://ghcr.io/v1/`:
 * no scheme, no path, lowercase, with every Docker Hub alias as `docker.io`. Two keys name
 * the same registry when their canonical hosts are equal (Docker's ConvertToHostname).
 */
export function canonicalHost(key: string): string {
  const host = (key.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').split('/')[0] ?? '').toLowerCase();
  return HUB_HOSTS.has(host) ? 'docker.io' : host;
}

/** The `auths` key Docker writes for a registry host: Docker Hub's legacy URL, else the host. */
export function normalizeRegistryHost(host: string): string {
  const canonical = canonicalHost(host);
  return canonical === 'docker.io' ? DOCKER_HUB_AUTH_KEY : canonical;
}

/** The `auths` key for a reference's registry (`docker.io` → `https://index.docker.io/v1/`). */
export function registryHost(ref: { registry: string }): string {
  return normalizeRegistryHost(ref.registry);
}

/** Credentials given explicitly, keyed by registry host (any spelling of Docker Hub works). */
export class StaticCredentialStore implements CredentialStore {
  private readonly entries = new Map<string, Credential>();

  constructor(entries: Readonly<Record<string, Credential>>) {
    for (const [host, credential] of Object.entries(entries)) {
      this.entries.set(canonicalHost(host), credential);
    }
  }

  async get(host: string): Promise<Credential | undefined> {
    return this.entries.get(canonicalHost(host));
  }
}

/** The first store that has credentials for a host answers. */
export class ChainCredentialStore implements CredentialStore {
  constructor(private readonly stores: readonly CredentialStore[]) {}

  async get(host: string): Promise<Credential | undefined> {
    for (const store of this.stores) {
      const found = await store.get(host);
      if (found) return found;
    }
    return undefined;
  }
}

/** The parts of Docker's config.json that hold credentials. */
export interface DockerConfig {
  auths?: Record<
    string,
    { auth?: string; username?: string; password?: string; identitytoken?: string }
  >;
  credHelpers?: Record<string, string>;
  credsStore?: string;
}

type Env = Readonly<Record<string, string | undefined>>;

export interface DockerConfigOptions {
  /** The config itself (tests, or an already read file); otherwise it is read from disk. */
  config?: DockerConfig;
  /** The config file; default `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`. */
  path?: string;
  /** Environment for finding the file and running credential helpers (default process.env). */
  env?: Env;
  /** Runs `docker-credential-<name> get`; the project's exec seam by default. */
  exec?: Exec;
}

/** Where the Docker CLI keeps its config file. */
export function dockerConfigPath(env: Env = process.env): string {
  const dir = env.DOCKER_CONFIG || join(env.HOME || homedir(), '.docker');
  return join(dir, 'config.json');
}

/** Parses config.json text, keeping only the credential parts; ConfigError when malformed. */
export function parseDockerConfig(text: string, source: string): DockerConfig {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`${source}: not valid JSON (${(error as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(`${source}: expected a JSON object`);
  }
  const record = parsed as Record<string, unknown>;
  const config: DockerConfig = {};
  if (isObject(record.auths)) {
    config.auths = {};
    for (const [key, value] of Object.entries(record.auths)) {
      if (!isObject(value)) continue;
      const entry: NonNullable<DockerConfig['auths']>[string] = {};
      for (const field of ['auth', 'username', 'password', 'identitytoken'] as const) {
        const fieldValue = value[field];
        if (typeof fieldValue === 'string' && fieldValue !== '') entry[field] = fieldValue;
      }
      config.auths[key] = entry;
    }
  }
  if (isObject(record.credHelpers)) {
    config.credHelpers = {};
    for (const [key, value] of Object.entries(record.credHelpers)) {
      if (typeof value === 'string' && value !== '') config.credHelpers[key] = value;
    }
  }
  if (typeof record.credsStore === 'string' && record.credsStore !== '') {
    config.credsStore = record.credsStore;
  }
  return config;
}

/**
 * Credentials from a Docker config. For a host, a `credHelpers` entry wins, then the
 * `credsStore`; when neither has credentials, the inline `auths` entry (`auth` as
 * base64 `user:password`, or `username`/`password`, or `identitytoken`).
 */
export class DockerConfigCredentialStore implements CredentialStore {
  private config?: Promise<DockerConfig>;
  private readonly env: Env;
  private readonly exec: Exec;

  constructor(private readonly options: DockerConfigOptions = {}) {
    this.env = options.env ?? process.env;
    this.exec = options.exec ?? defaultExec;
  }

  async get(host: string): Promise<Credential | undefined> {
    const config = await this.load();
    const wanted = canonicalHost(host);
    const helper = findEntry(config.credHelpers, wanted);
    if (helper) return this.fromHelper(helper, host);
    if (config.credsStore) {
      const stored = await this.fromHelper(config.credsStore, host);
      if (stored) return stored;
    }
    const entry = findEntry(config.auths, wanted);
    return entry ? fromAuthEntry(entry) : undefined;
  }

  private load(): Promise<DockerConfig> {
    if (this.options.config) return Promise.resolve(this.options.config);
    this.config ??= (async () => {
      const path = this.options.path ?? dockerConfigPath(this.env);
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
        throw new ConfigError(`cannot read ${path}: ${(error as Error).message}`);
      }
      return parseDockerConfig(text, path);
    })();
    return this.config;
  }

  private async fromHelper(name: string, host: string): Promise<Credential | undefined> {
    const command = `docker-credential-${name}`;
    const serverUrl = normalizeRegistryHost(host);
    // The output holds the secret: collect it here, never pass it on to a log.
    const lines: string[] = [];
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(this.env)) if (value !== undefined) env[key] = value;
    const result = await this.exec({ command, args: ['get'], input: serverUrl, env }, (line) =>
      lines.push(line),
    );
    const output = lines.join('\n');
    if (result.exitCode !== 0) {
      // docker-credential-helpers answer "credentials not found in native keychain".
      if (/not found/i.test(output)) return undefined;
      const last = lines.filter((line) => line.trim() !== '' && !/secret/i.test(line)).pop();
      throw new UserError(
        `${command} get for ${serverUrl} failed with exit code ${result.exitCode}${last ? `: ${last.trim()}` : ''}`,
      );
    }
    const answer = parseHelperOutput(output, lines);
    if (!answer) throw new UserError(`${command} get for ${serverUrl} printed no credentials JSON`);
    const username = typeof answer.Username === 'string' ? answer.Username : '';
    const secret = typeof answer.Secret === 'string' ? answer.Secret : '';
    if (secret === '') return undefined;
    // Helpers store identity tokens under the user name "<token>" (docker/cli credentials).
    if (username === '<token>') return { token: secret };
    return { username, password: secret };
  }
}

function parseHelperOutput(output: string, lines: string[]): Record<string, unknown> | undefined {
  for (const candidate of [output, ...lines]) {
    const text = candidate.trim();
    if (!text.startsWith('{')) continue;
    try {
      const parsed: unknown = JSON.parse(text);
      if (isObject(parsed)) return parsed;
    } catch {
      // stderr may be mixed into the output: try each line
    }
  }
  return undefined;
}

function fromAuthEntry(entry: NonNullable<DockerConfig['auths']>[string]): Credential | undefined {
  if (entry.identitytoken) return { token: entry.identitytoken };
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0) return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  if (entry.username && entry.password) {
    return { username: entry.username, password: entry.password };
  }
  return undefined;
}

function findEntry<T>(entries: Record<string, T> | undefined, wanted: string): T | undefined {
  if (!entries) return undefined;
  for (const [key, value] of Object.entries(entries)) {
    if (canonicalHost(key) === wanted) return value;
  }
  return undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Explicit credentials, keyed by registry host. */
export function staticCredentials(entries: Readonly<Record<string, Credential>>): CredentialStore {
  return new StaticCredentialStore(entries);
}

/** Credentials from the Docker config file and its credential helpers. */
export function dockerConfigCredentials(options: DockerConfigOptions = {}): CredentialStore {
  return new DockerConfigCredentialStore(options);
}

/** Asks each store in turn; the first with credentials for the host answers. */
export function chainCredentials(stores: readonly CredentialStore[]): CredentialStore {
  return new ChainCredentialStore(stores);
}

/** No credentials anywhere: anonymous access. */
export const anonymousCredentials: CredentialStore = { get: async () => undefined };

export interface AuthFile {
  /** The config.json, for buildah `--authfile`. */
  path: string;
  /** Its folder, for `DOCKER_CONFIG` (buildx, pack, Kaniko). */
  dir: string;
  /** Deletes the folder; safe to call more than once. */
  remove(): Promise<void>;
}

/**
 * Writes credentials in Docker's config.json format to a fresh private folder (0700, file
 * 0600): `{"auths":{"host":{"auth":"base64(user:password)"}}}`, with Docker Hub under
 * `https://index.docker.io/v1/` as the Docker CLI and Kaniko expect.
 */
export async function writeAuthFile(
  entries: Readonly<Record<string, { username: string; password: string }>>,
  parent: string = tmpdir(),
): Promise<AuthFile> {
  const dir = await mkdtemp(join(parent, 'image-builder-auth-'));
  await chmod(dir, 0o700);
  const auths: Record<string, { auth: string }> = {};
  for (const [host, { username, password }] of Object.entries(entries)) {
    auths[normalizeRegistryHost(host)] = {
      auth: Buffer.from(`${username}:${password}`, 'utf8').toString('base64'),
    };
  }
  const path = join(dir, 'config.json');
  await writeFile(path, `${JSON.stringify({ auths }, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  // The mode given to writeFile is reduced by the umask; make sure it is exactly 0600.
  await chmod(path, 0o600);
  return {
    path,
    dir,
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
