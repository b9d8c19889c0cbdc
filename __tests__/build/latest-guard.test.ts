// The check after writing a moving tag, against an in-memory registry: what other runs
// write happens during the settle wait (the `sleep` hook), as it would between two reads.
import {
  REVISION_LABEL,
  movingTagDecision,
  tagStateAfterWrite,
  verifyMovingTags,
} from '../../src/build/latest-guard.js';
import type { VerifyOptions, WrittenTag } from '../../src/build/latest-guard.js';
import { MEDIA_TYPES } from '../../src/registry/client.js';
import type { RegistryClient } from '../../src/registry/client.js';

const REPO = 'registry.example/team/app';
const OLD = 'a'.repeat(40);
const MINE = 'b'.repeat(40);
const NEW = 'c'.repeat(40);
const OTHER = 'd'.repeat(40);
/** OLD → MINE → NEW on one line of history; OTHER on none. */
const HISTORY = [OLD, MINE, NEW];

const digestOf = (name: string): string => `sha256:${name.padEnd(64, '0')}`;

/** Tags, and each image's revision label (undefined: no label). */
function fakeRegistry() {
  const tags = new Map<string, string>();
  const revisions = new Map<string, string | undefined>();
  let failHead = false;
  const heads: string[] = [];
  const resolve = (reference: string): string | undefined =>
    reference.includes('@') ? reference.slice(reference.indexOf('@') + 1) : tags.get(reference);
  const client = {
    headManifest: async (reference: string) => {
      heads.push(reference);
      if (failHead) throw new Error('503 Service Unavailable');
      const digest = resolve(reference);
      return digest === undefined
        ? undefined
        : { digest, mediaType: MEDIA_TYPES.ociManifest, size: 1 };
    },
    getManifest: async (reference: string) => {
      const digest = resolve(reference) as string;
      const bytes = Buffer.from(JSON.stringify({ config: { digest: `config-${digest}` } }));
      return { bytes, mediaType: MEDIA_TYPES.ociManifest, digest };
    },
    getBlob: async (_repository: string, configDigest: string) => {
      const revision = revisions.get(configDigest.slice('config-'.length));
      const labels = revision === undefined ? {} : { [REVISION_LABEL]: revision };
      return Buffer.from(JSON.stringify({ config: { Labels: labels } }));
    },
  } as unknown as RegistryClient;
  return {
    client,
    /** Pushes an image built from `revision` and points `tag` at it. */
    put(tag: string, name: string, revision: string | undefined): string {
      const digest = digestOf(name);
      revisions.set(digest, revision);
      tags.set(`${REPO}:${tag}`, digest);
      return digest;
    },
    at: (tag: string) => tags.get(`${REPO}:${tag}`),
    remove: (tag: string) => tags.delete(`${REPO}:${tag}`),
    failReads: () => (failHead = true),
    /** The references read with HEAD, in order. */
    heads,
  };
}

const isAncestor = async (ancestor: string, descendant: string): Promise<boolean> => {
  const [from, to] = [HISTORY.indexOf(ancestor), HISTORY.indexOf(descendant)];
  // As git does for a commit it does not have.
  if (from < 0 || to < 0) throw new Error('fatal: Not a valid commit name');
  return from <= to;
};

/** This run wrote latest → its image; `meanwhile` runs in each settle wait. */
function setUp(meanwhile: (round: number, registry: ReturnType<typeof fakeRegistry>) => void) {
  const registry = fakeRegistry();
  const mine = registry.put('latest', 'mine', MINE);
  const written: WrittenTag = { repository: REPO, tag: 'latest', digest: mine };
  const lines: string[] = [];
  const waits: number[] = [];
  const writes: WrittenTag[] = [];
  const options: VerifyOptions = {
    registry: registry.client,
    sha: MINE,
    isAncestor,
    log: (line) => lines.push(line),
    write: async (tag) => {
      writes.push(tag);
      registry.put(tag.tag, 'mine', MINE);
    },
    settleMs: 250,
    sleep: async (ms) => {
      waits.push(ms);
      meanwhile(waits.length, registry);
    },
  };
  return { registry, mine, written, lines, waits, writes, options };
}

describe('verifyMovingTags', () => {
  test('nobody else wrote: one settle wait, one read, nothing written', async () => {
    const { written, options, waits, writes, lines } = setUp(() => undefined);
    const [result] = await verifyMovingTags([written], options);
    expect(result).toMatchObject({ state: 'ours', restored: 0 });
    expect(waits).toEqual([250]);
    expect(writes).toEqual([]);
    expect(lines).toEqual([]);
  });

  test('an older run wrote over it: put back once, then found in place', async () => {
    const { registry, written, options, waits, writes, lines, mine } = setUp((round, r) => {
      if (round === 1) r.put('latest', 'old', OLD);
    });
    const [result] = await verifyMovingTags([written], options);
    expect(registry.at('latest')).toBe(mine);
    expect(result).toMatchObject({ state: 'ours', restored: 1 });
    expect(writes).toEqual([written]);
    expect(waits).toEqual([250, 250]);
    expect(lines).toEqual([
      `${REPO}: latest was moved back to aaaaaaa by an older run; moving it to bbbbbbb again`,
    ]);
  });

  test('older runs keep writing over it: put back at most `rounds` times, then left', async () => {
    const { registry, written, options, writes, lines, mine } = setUp((_round, r) =>
      r.put('latest', 'old', OLD),
    );
    const [result] = await verifyMovingTags([written], { ...options, rounds: 3 });
    expect(writes).toHaveLength(3);
    expect(result).toMatchObject({ state: 'older', restored: 3 });
    expect(registry.at('latest')).toBe(mine);
    expect(lines.at(-1)).toBe(
      `${REPO}: latest was overwritten by older runs 3 times; put back, not checked again`,
    );
  });

  test('a newer run took it: it stays there', async () => {
    const { registry, written, options, writes, lines } = setUp((_round, r) =>
      r.put('latest', 'new', NEW),
    );
    const [result] = await verifyMovingTags([written], options);
    expect(result).toMatchObject({ state: 'newer', restored: 0 });
    expect(writes).toEqual([]);
    expect(registry.at('latest')).toBe(digestOf('new'));
    expect(lines).toEqual([
      `${REPO}: latest is now on ccccccc, newer than bbbbbbb: it stays there`,
    ]);
  });

  test('only the overwritten tags are read again', async () => {
    const { registry, written, options } = setUp((round, r) => {
      if (round === 1) r.put('latest', 'old', OLD);
    });
    const other = { ...written, tag: 'stable', digest: registry.put('stable', 'mine', MINE) };
    const results = await verifyMovingTags([written, other], options);
    expect(results.map((result) => [result.tag, result.state])).toEqual([
      ['latest', 'ours'],
      ['stable', 'ours'],
    ]);
    expect(registry.heads).toEqual([`${REPO}:latest`, `${REPO}:stable`, `${REPO}:latest`]);
  });
});

describe('tagStateAfterWrite: what is not clearly an older run is left alone', () => {
  const check = async (meanwhile: (registry: ReturnType<typeof fakeRegistry>) => void) => {
    const { registry, written, options } = setUp(() => undefined);
    meanwhile(registry);
    return tagStateAfterWrite(written, options);
  };

  test.each([
    [
      'an image of the same commit',
      (r: ReturnType<typeof fakeRegistry>) => r.put('latest', 'rerun', MINE),
      { state: 'same', revision: MINE },
    ],
    [
      'a commit not in the local history',
      (r: ReturnType<typeof fakeRegistry>) => r.put('latest', 'other', OTHER),
      { state: 'unknown', revision: OTHER },
    ],
    [
      'an image without a revision label',
      (r: ReturnType<typeof fakeRegistry>) => r.put('latest', 'bare', undefined),
      { state: 'unknown' },
    ],
    [
      'a short revision',
      (r: ReturnType<typeof fakeRegistry>) => r.put('latest', 'short', 'aaaaaaa'),
      { state: 'unknown' },
    ],
    [
      'a deleted tag',
      (r: ReturnType<typeof fakeRegistry>) => r.remove('latest'),
      { state: 'unknown', reason: 'gone' },
    ],
    [
      'a registry that fails',
      (r: ReturnType<typeof fakeRegistry>) => r.failReads(),
      { state: 'unknown' },
    ],
  ] as const)('%s', async (_label, meanwhile, expected) => {
    expect(await check(meanwhile)).toMatchObject(expected);
  });

  test('an older commit is told apart from a newer one', async () => {
    expect(await check((r) => r.put('latest', 'old', OLD))).toEqual({
      state: 'older',
      revision: OLD,
    });
    expect(await check((r) => r.put('latest', 'new', NEW))).toEqual({
      state: 'newer',
      revision: NEW,
    });
    expect(await check(() => undefined)).toEqual({ state: 'ours' });
  });
});

describe('movingTagDecision: before writing a moving tag', () => {
  const decide = (registry: ReturnType<typeof fakeRegistry>, digest: string) =>
    movingTagDecision({
      registry: registry.client,
      repository: REPO,
      tag: 'latest',
      digest,
      sha: MINE,
      isAncestor,
      log: () => undefined,
    });

  test.each([
    ['no tag yet: move', () => undefined, 'move'],
    [
      'on an older commit: move',
      (r: ReturnType<typeof fakeRegistry>) => r.put('latest', 'old', OLD),
      'move',
    ],
    [
      'on a newer commit: stay',
      (r: ReturnType<typeof fakeRegistry>) => r.put('latest', 'new', NEW),
      'stay',
    ],
    [
      'on an unrelated commit: move',
      (r: ReturnType<typeof fakeRegistry>) => r.put('latest', 'x', OTHER),
      'move',
    ],
    [
      'on no revision at all: move',
      (r: ReturnType<typeof fakeRegistry>) => r.put('latest', 'x', undefined),
      'move',
    ],
    [
      'already on this image (a rerun): nothing to write',
      (r: ReturnType<typeof fakeRegistry>) => r.put('latest', 'mine', MINE),
      'current',
    ],
  ] as const)('%s', async (_label, before, expected) => {
    const registry = fakeRegistry();
    before(registry);
    expect(await decide(registry, digestOf('mine'))).toBe(expected);
  });
});
