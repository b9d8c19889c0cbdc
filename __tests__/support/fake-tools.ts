// Recording fakes for the tools that cannot run here (no Docker engine, no Kaniko, no pack):
// small executable node scripts that append what they were given (argv, the environment
// variables that carry credentials and state, and the docker config file they would read)
// as one JSON line to a record file, then answer as the real tool would: print its output,
// write the metadata or digest file named by one of their flags, exit with its status.
import {
  appendFile,
  chmod,
  mkdir,
  mkdtemp,
  readFile,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';

import { exec as realExec } from '../../src/adapters/exec.js';
import type { Exec } from '../../src/builders/types.js';

/** Environment variables every fake records (null when unset). */
export const RECORDED_ENV = [
  'DOCKER_CONFIG',
  'BUILDX_CONFIG',
  'KANIKO_CLEANUP',
  'KANIKO_PRE_CLEANUP',
] as const;

/** What a fake does for an argv that starts with `when` (the first match wins; none: exit 0). */
export interface FakeResponse {
  when?: readonly string[];
  stdout?: readonly string[];
  exitCode?: number;
  /** Writes `content` to the file named by `flag`'s value (`--metadata-file x`, `--digest-file=x`). */
  writes?: readonly { flag: string; content: string }[];
  /** Records the text of the files named by these flags' values (`--dockerfile`, `-f`). */
  reads?: readonly string[];
  /**
   * Does what the real tool's push does: uploads a tiny image (labels from the `--label`
   * arguments) with the run's credentials to the reference named by `flag`'s value or the
   * argument at `position`, first recording that repository's tags; then reports the digest
   * as the tool would: a buildx metadata file, a Kaniko digest file, or pack's output line.
   */
  push?: {
    ref: { flag: string } | { position: number };
    digest: { metadataFile: string } | { digestFile: string } | 'pack-output';
    /** Milliseconds to take, so that overlapping runs would show. */
    delay?: number;
  };
}

export interface FakeRecord {
  tool: string;
  argv: string[];
  env: Record<(typeof RECORDED_ENV)[number], string | null>;
  /** `$DOCKER_CONFIG/config.json` as the tool would read it: path → text (null: missing). */
  files: Record<string, string | null>;
  /** Epoch milliseconds when the fake started and ended. */
  started: number;
  ended: number;
  /** For a push: the reference, the repository's tags just before it (null: unreadable), the digest. */
  pushed?: { ref: string; tagsBefore: string[] | null; digest: string };
}

const SCRIPT = String.raw`
const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');
const zlib = require('node:zlib');
const started = Date.now();
const argv = process.argv.slice(2);
const env = {};
for (const key of RECORDED_ENV) env[key] = process.env[key] ?? null;
const files = {};
if (process.env.DOCKER_CONFIG) {
  const file = path.join(process.env.DOCKER_CONFIG, 'config.json');
  try { files[file] = fs.readFileSync(file, 'utf8'); } catch { files[file] = null; }
}
const response =
  RESPONSES.find((r) => (r.when || []).every((word, i) => argv[i] === word)) || {};
const flagValue = (flag) => {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === flag) return argv[i + 1];
    if (argv[i].startsWith(flag + '=')) return argv[i].slice(flag.length + 1);
  }
  return undefined;
};
const flagValues = (flag) => argv.flatMap((word, i) => (word === flag ? [argv[i + 1]] : []));
for (const flag of response.reads || []) {
  const file = flagValue(flag);
  if (file) { try { files[file] = fs.readFileSync(file, 'utf8'); } catch { files[file] = null; } }
}
const sha = (bytes) => 'sha256:' + crypto.createHash('sha256').update(bytes).digest('hex');

async function push(spec) {
  const ref = 'flag' in spec.ref ? flagValue(spec.ref.flag) : argv[spec.ref.position];
  const slash = ref.indexOf('/');
  const host = ref.slice(0, slash);
  const colon = ref.lastIndexOf(':');
  const repo = ref.slice(slash + 1, colon);
  const tag = ref.slice(colon + 1);
  const config = JSON.parse(fs.readFileSync(path.join(process.env.DOCKER_CONFIG, 'config.json'), 'utf8'));
  const auth = config.auths && config.auths[host] && config.auths[host].auth;
  const headers = auth ? { Authorization: 'Basic ' + auth } : {};
  const base = 'http://' + host + '/v2/' + repo;
  const listed = await fetch(base + '/tags/list', { headers });
  const tagsBefore = listed.status === 404 ? [] : listed.ok ? ((await listed.json()).tags || []) : null;
  const labels = {};
  for (const label of flagValues('--label')) {
    const eq = label.indexOf('=');
    labels[label.slice(0, eq)] = label.slice(eq + 1);
  }
  const tar = Buffer.alloc(1024);
  const layer = zlib.gzipSync(tar);
  const image = Buffer.from(JSON.stringify({
    architecture: 'amd64', os: 'linux', config: { Labels: labels },
    rootfs: { type: 'layers', diff_ids: [sha(tar)] },
    history: [{ created_by: TOOL + ' ' + ref }],
  }));
  for (const blob of [image, layer]) {
    const startUpload = await fetch(base + '/blobs/uploads/', { method: 'POST', headers });
    if (startUpload.status !== 202) throw new Error('upload start: ' + startUpload.status);
    const location = new URL(startUpload.headers.get('location'), base);
    location.searchParams.set('digest', sha(blob));
    const done = await fetch(location, {
      method: 'PUT', headers: { ...headers, 'Content-Type': 'application/octet-stream' }, body: blob,
    });
    if (done.status !== 201) throw new Error('upload: ' + done.status);
  }
  const mediaType = 'application/vnd.docker.distribution.manifest.v2+json';
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType,
    config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: sha(image), size: image.length },
    layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', digest: sha(layer), size: layer.length }],
  }));
  const put = await fetch(base + '/manifests/' + tag, {
    method: 'PUT', headers: { ...headers, 'Content-Type': mediaType }, body: manifest,
  });
  if (put.status !== 201) throw new Error('manifest: ' + put.status + ' ' + (await put.text()));
  const digest = sha(manifest);
  if (spec.delay) await new Promise((resolve) => setTimeout(resolve, spec.delay));
  if (spec.digest === 'pack-output') process.stdout.write('[exporter] *** Digest: ' + digest + '\n');
  else if ('metadataFile' in spec.digest) {
    fs.writeFileSync(flagValue(spec.digest.metadataFile), JSON.stringify({ 'containerimage.digest': digest }));
  } else fs.writeFileSync(flagValue(spec.digest.digestFile), digest);
  return { ref, tagsBefore, digest };
}

async function main() {
  let pushed;
  try {
    if (response.push) pushed = await push(response.push);
    for (const write of response.writes || []) {
      const target = flagValue(write.flag);
      if (target) fs.writeFileSync(target, write.content);
    }
    for (const line of response.stdout || []) process.stdout.write(line + '\n');
    process.exitCode = response.exitCode || 0;
  } catch (error) {
    process.stderr.write(String(error && error.stack || error) + '\n');
    process.exitCode = 99;
  } finally {
    const record = { tool: TOOL, argv, env, files, started, ended: Date.now() };
    if (pushed) record.pushed = pushed;
    fs.appendFileSync(RECORD_FILE, JSON.stringify(record) + '\n');
  }
}
main();
`;

export class FakeTools {
  private constructor(
    /** Holds the fakes (and `node`, so a PATH of this folder alone still runs them). */
    readonly bin: string,
    readonly root: string,
    readonly recordFile: string,
  ) {}

  static async create(): Promise<FakeTools> {
    const root = await mkdtemp(join(tmpdir(), 'image-builder-fakes-'));
    const bin = join(root, 'bin');
    await mkdir(bin);
    // The scripts are CommonJS whatever package.json sits above the temp folder.
    await writeFile(join(root, 'package.json'), '{"type":"commonjs"}\n');
    await symlink(process.execPath, join(bin, 'node'));
    const recordFile = join(root, 'records.jsonl');
    await appendFile(recordFile, '');
    return new FakeTools(bin, root, recordFile);
  }

  /** Writes the fake `name` into bin/ (or at `path`, e.g. an executor path) and returns its path. */
  async install(name: string, responses: readonly FakeResponse[], path?: string): Promise<string> {
    const file = path ?? join(this.bin, name);
    await mkdir(dirname(file), { recursive: true });
    const header = [
      '#!/usr/bin/env node',
      `const TOOL = ${JSON.stringify(name)};`,
      `const RECORD_FILE = ${JSON.stringify(this.recordFile)};`,
      `const RECORDED_ENV = ${JSON.stringify(RECORDED_ENV)};`,
      `const RESPONSES = ${JSON.stringify(responses)};`,
    ].join('\n');
    await writeFile(file, `${header}\n${SCRIPT}`);
    await chmod(file, 0o755);
    return file;
  }

  /** The real exec, with bin/ first on PATH (unless a request brings its own PATH). */
  get exec(): Exec {
    const path = `${this.bin}${delimiter}${process.env.PATH ?? ''}`;
    return (request, onLine) =>
      realExec({ ...request, env: { PATH: path, ...request.env } }, onLine);
  }

  /** Everything the fakes recorded, in order; only `tool`'s when given. */
  async records(tool?: string): Promise<FakeRecord[]> {
    const text = await readFile(this.recordFile, 'utf8');
    const all = text
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as FakeRecord);
    return tool === undefined ? all : all.filter((record) => record.tool === tool);
  }

  async remove(): Promise<void> {
    await rm(this.root, { recursive: true, force: true });
  }
}

export const USER = 'builder';
/** A password that must never reach a command line. */
export const PASSWORD = 'not-in-argv s3cret=p4ss';

/** A private docker config as the run writes it: `<dir>/config.json`, mode 0600. */
export async function writeAuthFile(root: string, host: string): Promise<string> {
  const dir = join(root, 'auth');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, 'config.json');
  const auth = Buffer.from(`${USER}:${PASSWORD}`).toString('base64');
  await writeFile(file, `${JSON.stringify({ auths: { [host]: { auth } } })}\n`, { mode: 0o600 });
  return file;
}

/** Forms of the secret that must not appear anywhere on a command line. */
export function secretForms(): string[] {
  return [PASSWORD, Buffer.from(`${USER}:${PASSWORD}`).toString('base64'), 's3cret'];
}
