import type { BuilderName } from '../core/types.js';

/** One process to run: never through a shell, secrets only on stdin or in files. */
export interface ExecRequest {
  command: string;
  args: readonly string[];
  /** Added to (and overriding) the environment of this process. */
  env?: Readonly<Record<string, string>>;
  cwd?: string;
  /** Written to the process's stdin, then closed. */
  input?: string;
}

export interface ExecResult {
  exitCode: number;
  /** The last lines of output (stdout and stderr interleaved), for error messages. */
  tail: string[];
}

/** The one seam every process goes through; output lines stream to `onLine`. */
export type Exec = (request: ExecRequest, onLine: (line: string) => void) => Promise<ExecResult>;

/** Everything a backend needs to build one image and push it under one reference. */
export interface BuildRequest {
  /** Image name, for messages and local names. */
  image: string;
  /** Absolute path of the build context. */
  contextDir: string;
  /** Absolute path of the Dockerfile to build: the original, or a copy with parents pinned. */
  dockerfile: string;
  target?: string;
  buildArgs: Readonly<Record<string, string>>;
  labels: Readonly<Record<string, string>>;
  /** `linux/amd64`…; empty: the builder's own platform. Several make a manifest list. */
  platforms: readonly string[];
  /** The reference the builder pushes to (`host/repo:tag`); further tags are added later. */
  pushRef: string;
  /** Docker config file (mode 0600) with the run's credentials. */
  authFile: string;
  /** Reach registries over plain HTTP / without TLS verification (loopback, or configured). */
  insecure: boolean;
  /** A private folder for this build's scratch files (digest file, metadata). */
  workDir: string;
  /** Images of this run are built on this one: a builder with local storage keeps it there,
   *  known by its pushed digest, until `finish`, so they need not pull it back. */
  keepLocal?: boolean;
}

export interface BuildResult {
  /** `sha256:…` of what was pushed (the manifest list for several platforms). */
  digest: string;
}

export interface Builder {
  readonly name: Exclude<BuilderName, 'auto'>;
  build(request: BuildRequest, exec: Exec, log: (line: string) => void): Promise<BuildResult>;
  /** Once every build of the run has ended: removes what was kept for children. */
  finish?(exec: Exec, log: (line: string) => void): Promise<void>;
}
