// Image references as Docker reads them: the grammar of distribution/reference
// (https://github.com/distribution/reference/blob/main/regexp.go) and the normalisation of
// ParseNormalizedNamed / FamiliarString (normalize.go), so that `ubuntu`,
// `docker.io/library/ubuntu` and `index.docker.io/library/ubuntu` are one repository.

import { NameError } from './errors.js';
import type { ImageReference } from './types.js';

const DEFAULT_REGISTRY = 'docker.io';
const LEGACY_DEFAULT_REGISTRY = 'index.docker.io';
const OFFICIAL_PREFIX = 'library/';
const NAME_MAX_LENGTH = 255;

const TAG_RULE = '[A-Za-z0-9_][A-Za-z0-9._-]{0,127}';
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
const PATH_COMPONENT_RULE = '[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*';
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
const DOMAIN_COMPONENT = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/;
const IPV6_HOST = /^\[[a-fA-F0-9:]+\]$/;
const PORT = /^[0-9]+$/;
// A bare image ID; Docker refuses it as a name so that it is never mistaken for one.
const IMAGE_ID = /^[a-f0-9]{64}$/;
// go-digest accepts only these algorithms, each with a fixed length of lowercase hex.
const DIGEST_HEX_LENGTHS: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };

/**
 * Parses an image reference with Docker's normalisation: the first path component is a
 * registry host when it contains `.` or `:`, is `localhost`, or has an uppercase letter;
 * otherwise the registry is `docker.io`, where a one-component path gets `library/`.
 * Throws NameError naming the value and the rule it breaks.
 */
export function parseReference(text: string): ImageReference {
  const fail = (rule: string): never => {
    throw new NameError(`invalid image reference "${text}": ${rule}`);
  };
  if (text === '') fail('it is empty');
  if (IMAGE_ID.test(text)) {
    fail('a 64-character hexadecimal string is an image ID, not a repository name');
  }

  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    const problem = validateDigest(digest);
    if (problem) fail(problem);
  }

  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    const problem = validateTag(tag);
    if (problem) fail(problem);
  }

  if (rest === '') fail('the repository name is empty');
  const slash = rest.indexOf('/');
  const first = slash === -1 ? '' : rest.slice(0, slash);
  const explicitRegistry =
    slash !== -1 && (/[.:]/.test(first) || first === 'localhost' || first !== first.toLowerCase());

  let registry = DEFAULT_REGISTRY;
  let path = rest;
  if (explicitRegistry) {
    registry = first;
    path = rest.slice(slash + 1);
    const problem = validateRegistryHost(registry);
    if (problem) fail(problem);
  }
  if (registry === LEGACY_DEFAULT_REGISTRY) registry = DEFAULT_REGISTRY;

  const pathProblem = validateRepositoryPath(path);
  if (pathProblem) fail(pathProblem);
  if (registry === DEFAULT_REGISTRY && !path.includes('/')) path = OFFICIAL_PREFIX + path;

  const name = `${registry}/${path}`;
  if (name.length > NAME_MAX_LENGTH) {
    fail(
      `name "${name}" is ${name.length} characters long, at most ${NAME_MAX_LENGTH} are allowed`,
    );
  }

  const reference: ImageReference = { registry, path, explicitRegistry };
  if (tag !== undefined) reference.tag = tag;
  if (digest !== undefined) reference.digest = digest;
  return reference;
}

/**
 * Canonical text `registry/path[:tag][@digest]`. With `short`, the familiar form Docker
 * prints: no `docker.io/`, and no `library/` before an official image's name.
 */
export function formatReference(ref: ImageReference, options: { short?: boolean } = {}): string {
  let name = repositoryOf(ref);
  if (options.short && ref.registry === DEFAULT_REGISTRY) {
    let path = ref.path;
    const official = path.slice(OFFICIAL_PREFIX.length);
    if (path.startsWith(OFFICIAL_PREFIX) && !official.includes('/')) path = official;
    // Docker's FamiliarString would print `docker.io/a.b/c` as `a.b/c`, which reads back
    // with `a.b` as the registry; keep the registry whenever dropping it changes the meaning.
    const first = path.split('/')[0] ?? '';
    const looksLikeHost = path.includes('/') && (first.includes('.') || first === 'localhost');
    if (!looksLikeHost) name = path;
  }
  if (ref.tag !== undefined) name += `:${ref.tag}`;
  if (ref.digest !== undefined) name += `@${ref.digest}`;
  return name;
}

/** `registry/path`, without tag or digest. */
export function repositoryOf(ref: ImageReference): string {
  return `${ref.registry}/${ref.path}`;
}

/** Describes the rule a tag breaks, or undefined when it is valid. */
export function validateTag(tag: string): string | undefined {
  if (TAG.test(tag)) return undefined;
  const length =
    tag.length > 128 ? ` (it is ${tag.length} characters long, at most 128 are allowed)` : '';
  return `tag "${tag}" must match ${TAG_RULE}${length}`;
}

/**
 * Describes the rule a repository path (the part after the registry host, e.g.
 * `acme/api`) breaks, or undefined when it is valid.
 */
export function validateRepositoryPath(path: string): string | undefined {
  if (path === '') return 'repository path must not be empty';
  if (path !== path.toLowerCase()) return `repository path "${path}" must be lowercase`;
  if (path.length > NAME_MAX_LENGTH) {
    return `repository path "${path}" is ${path.length} characters long, at most ${NAME_MAX_LENGTH} are allowed`;
  }
  for (const component of path.split('/')) {
    if (component === '') {
      return `repository path "${path}" has an empty component (a leading, trailing or doubled "/")`;
    }
    if (!PATH_COMPONENT.test(component)) {
      return `repository path "${path}": component "${component}" must match ${PATH_COMPONENT_RULE}`;
    }
  }
  return undefined;
}

/**
 * Whether a reference written in a Dockerfile names `repository` (a full name like
 * `ghcr.io/acme/base`, or a bare `base` when no registry is configured): the same
 * registry and path, or, when the reference named no registry, the same path. A bare
 * one-component reference (`FROM base`) also matches by the path as written, so it names
 * `localhost:5000/base` just as `FROM acme/base` names `ghcr.io/acme/base`.
 * Throws NameError when `repository` itself is invalid.
 */
export function referencesRepository(use: ImageReference, repository: string): boolean {
  const target = parseReference(repository);
  if (use.path === target.path && sameRegistry(use.registry, target.registry)) return true;
  if (use.explicitRegistry) return false;
  if (use.path === target.path) return true;
  const written = use.path.slice(OFFICIAL_PREFIX.length);
  return (
    use.registry === DEFAULT_REGISTRY &&
    use.path.startsWith(OFFICIAL_PREFIX) &&
    !written.includes('/') &&
    written === target.path
  );
}

// Host names are case-insensitive (RFC 4343); Docker compares them as written, which
// would make `GHCR.io/acme/base` a different repository.
function sameRegistry(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

function validateRegistryHost(registry: string): string | undefined {
  const rule = `registry "${registry}" must be a host name or [IPv6] address with an optional :port`;
  let host = registry;
  const portAt = registry.startsWith('[') ? registry.indexOf(']:') + 1 : registry.indexOf(':');
  if (portAt > 0) {
    if (!PORT.test(registry.slice(portAt + 1))) return rule;
    host = registry.slice(0, portAt);
  }
  if (IPV6_HOST.test(host)) return undefined;
  if (host.split('.').every((component) => DOMAIN_COMPONENT.test(component))) return undefined;
  return rule;
}

function validateDigest(digest: string): string | undefined {
  const colon = digest.indexOf(':');
  const algorithm = colon === -1 ? '' : digest.slice(0, colon);
  const length = DIGEST_HEX_LENGTHS[algorithm];
  const hex = digest.slice(colon + 1);
  if (length !== undefined && hex.length === length && /^[a-f0-9]+$/.test(hex)) return undefined;
  return `digest "${digest}" must be sha256: followed by 64 lowercase hex digits (or sha384:/sha512: with 96/128)`;
}
