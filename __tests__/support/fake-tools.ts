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
}

export interface FakeRecord {
  tool: string;
  argv: string[];
  env: Record<(typeof RECORDED_ENV)[number], string | null>;
  /** `$DOCKER_CONFIG/config.json` as the tool would read it: path → text (null: missing). */
  files: Record<string, string | null>;
}

const SCRIPT = String.raw`
const fs = require('node:fs');
const path = require('node:path');
const argv = process.argv.slice(2);
const env = {};
for (const key of RECORDED_ENV) env[key] = process.env[key] ?? null;
const files = {};
if (process.env.DOCKER_CONFIG) {
  const file = path.join(process.env.DOCKER_CONFIG, 'config.json');
  try { files[file] = fs.readFileSync(file, 'utf8'); } catch { files[file] = null; }
}
fs.appendFileSync(RECORD_FILE, JSON.stringify({ tool: TOOL, argv, env, files }) + '\n');
const response =
  RESPONSES.find((r) => (r.when || []).every((word, i) => argv[i] === word)) || {};
const flagValue = (flag) => {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === flag) return argv[i + 1];
    if (argv[i].startsWith(flag + '=')) return argv[i].slice(flag.length + 1);
  }
  return undefined;
};
for (const write of response.writes || []) {
  const target = flagValue(write.flag);
  if (target) fs.writeFileSync(target, write.content);
}
for (const line of response.stdout || []) process.stdout.write(line + '\n');
process.exitCode = response.exitCode || 0;
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
