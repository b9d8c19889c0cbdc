// Where credentials for a registry come from, in order: explicit inputs, the runner's
// docker config (auths, credHelpers, credsStore), GitHub's token for ghcr.io, GitLab's job
// credentials for its own registry, and ECR / ECR Public through the AWS SDK.
import type { Credential, CredentialStore } from './credentials.js';
import { chainCredentials, dockerConfigCredentials, staticCredentials } from './credentials.js';

type Env = Record<string, string | undefined>;

export interface KeychainOptions {
  env: Env;
  /** Explicit inputs: these hosts get this user and password. */
  explicit?: { hosts: readonly string[]; username: string; password: string };
  /** The platform's token for its own registry (GitHub Actions' GITHUB_TOKEN). */
  githubToken?: string;
  /** ECR and ECR Public, when the run targets them. */
  ecr?: CredentialStore;
}

/** Credentials the CI platform hands every job for its own registry. */
export function platformCredentials(env: Env, githubToken?: string): Record<string, Credential> {
  const entries: Record<string, Credential> = {};
  if (githubToken && env.GITHUB_ACTIONS === 'true') {
    // ghcr.io takes the workflow token with the actor as user name.
    entries['ghcr.io'] = { username: env.GITHUB_ACTOR || 'x-access-token', password: githubToken };
  }
  if (env.CI_REGISTRY && env.CI_REGISTRY_USER && env.CI_REGISTRY_PASSWORD) {
    entries[env.CI_REGISTRY] = {
      username: env.CI_REGISTRY_USER,
      password: env.CI_REGISTRY_PASSWORD,
    };
  }
  return entries;
}

export function keychain(options: KeychainOptions): CredentialStore {
  const explicit: Record<string, Credential> = {};
  for (const host of options.explicit?.hosts ?? []) {
    explicit[host] = {
      username: options.explicit?.username ?? '',
      password: options.explicit?.password ?? '',
    };
  }
  return chainCredentials([
    staticCredentials(explicit),
    dockerConfigCredentials({ env: options.env }),
    staticCredentials(platformCredentials(options.env, options.githubToken)),
    ...(options.ecr ? [options.ecr] : []),
  ]);
}
