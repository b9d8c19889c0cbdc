// Credential sources: explicit, Docker config (auths, credHelpers, credsStore through a
// fake docker-credential helper on PATH), chains, and the auth file handed to builders.
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { ConfigError, UserError } from '../../src/core/errors.js';
import { parseReference } from '../../src/core/reference.js';
import {
  type Credential,
  type DockerConfig,
  DOCKER_HUB_AUTH_KEY,
  chainCredentials,
  dockerConfigCredentials,
  dockerConfigPath,
  parseDockerConfig,
  registryHost,
  staticCredentials,
  writeAuthFile,
} from '../../src/registry/credentials.js';

const b64 = (text: string): string => Buffer.from(text).toString('base64');

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'image-builder-credentials-test-'));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe('registryHost', () => {
  test.each([
    ['alpine', DOCKER_HUB_AUTH_KEY],
    ['docker.io/acme/api:1', DOCKER_HUB_AUTH_KEY],
    ['index.docker.io/acme/api', DOCKER_HUB_AUTH_KEY],
    ['ghcr.io/acme/api', 'ghcr.io'],
    ['127.0.0.1:5000/acme/api', '127.0.0.1:5000'],
    ['Registry.Example.com/acme/api', 'registry.example.com'],
  ])('%s → %s', (reference, host) => {
    expect(registryHost(parseReference(reference))).toBe(host);
  });
});

describe('Docker config', () => {
  const config: DockerConfig = parseDockerConfig(
    JSON.stringify({
      auths: {
        'https://index.docker.io/v1/': { auth: b64('hub-user:hub:pass') },
        'https://ghcr.io': { username: 'gh-user', password: 'gh-pass' },
        'quay.io': { identitytoken: 'quay-identity' },
        'http://127.0.0.1:5000/v1/': { auth: b64('local:pw') },
        'empty.example.com': {},
        'broken.example.com': { auth: b64('no-colon') },
      },
      HttpHeaders: { 'User-Agent': 'x' },
    }),
    'config.json',
  );

  test.each<[string, Credential | undefined]>([
    ['docker.io', { username: 'hub-user', password: 'hub:pass' }],
    ['index.docker.io', { username: 'hub-user', password: 'hub:pass' }],
    ['registry-1.docker.io', { username: 'hub-user', password: 'hub:pass' }],
    ['ghcr.io', { username: 'gh-user', password: 'gh-pass' }],
    ['GHCR.io', { username: 'gh-user', password: 'gh-pass' }],
    ['quay.io', { token: 'quay-identity' }],
    ['127.0.0.1:5000', { username: 'local', password: 'pw' }],
    ['127.0.0.1:5001', undefined],
    ['empty.example.com', undefined],
    ['broken.example.com', undefined],
    ['nowhere.example.com', undefined],
  ])('%s → %j', async (host, credential) => {
    expect(await dockerConfigCredentials({ config }).get(host)).toEqual(credential);
  });

  test('keeps only credential fields', () => {
    expect(Object.keys(config).sort()).toEqual(['auths']);
  });

  test.each([
    ['{', /config\.json: not valid JSON/],
    ['[]', /config\.json: expected a JSON object/],
  ])('%s is a ConfigError', (text, message) => {
    expect(() => parseDockerConfig(text, 'config.json')).toThrow(ConfigError);
    expect(() => parseDockerConfig(text, 'config.json')).toThrow(message);
  });

  test('is read from DOCKER_CONFIG; a missing file means no credentials', async () => {
    const dir = join(scratch, 'docker-config');
    await rm(dir, { recursive: true, force: true });
    const env = { DOCKER_CONFIG: dir, HOME: scratch };
    expect(dockerConfigPath(env)).toBe(join(dir, 'config.json'));
    expect(dockerConfigPath({ HOME: scratch })).toBe(join(scratch, '.docker', 'config.json'));
    expect(await dockerConfigCredentials({ env }).get('ghcr.io')).toBeUndefined();

    await mkdir(dir, { recursive: true });
    await writeFile(
      join(dir, 'config.json'),
      JSON.stringify({ auths: { 'ghcr.io': { auth: b64('a:b') } } }),
    );
    expect(await dockerConfigCredentials({ env }).get('ghcr.io')).toEqual({
      username: 'a',
      password: 'b',
    });
    await writeFile(join(dir, 'config.json'), '{ nope');
    await expect(dockerConfigCredentials({ env }).get('ghcr.io')).rejects.toThrow(ConfigError);
  });
});

describe('credential helpers', () => {
  let bin: string;
  let env: Record<string, string>;
  const recordFile = (name: string): string => join(scratch, `helper-${name}`);

  beforeAll(async () => {
    bin = join(scratch, 'bin');
    await mkdir(bin, { recursive: true });
    // Records its argv and stdin, then answers like docker-credential-helpers do.
    const script = `#!/bin/sh
printf '%s\\n' "$@" > '${recordFile('argv')}'
host=$(cat)
printf '%s' "$host" > '${recordFile('stdin')}'
case "$host" in
  registry.example.com) printf '{"ServerURL":"%s","Username":"helper-user","Secret":"helper-pass"}\\n' "$host" ;;
  ${DOCKER_HUB_AUTH_KEY}) printf '{"ServerURL":"%s","Username":"hub-helper","Secret":"hub-pass"}\\n' "$host" ;;
  token.example.com) printf '{"ServerURL":"%s","Username":"<token>","Secret":"identity-tok"}\\n' "$host" ;;
  broken.example.com) echo "keychain locked" >&2; exit 3 ;;
  *) echo "credentials not found in native keychain"; exit 1 ;;
esac
`;
    await writeFile(join(bin, 'docker-credential-test'), script);
    await chmod(join(bin, 'docker-credential-test'), 0o755);
    env = { PATH: `${bin}${delimiter}${process.env.PATH ?? ''}` };
  });

  test('credHelpers: host on stdin, only "get" in argv', async () => {
    const store = dockerConfigCredentials({
      config: { credHelpers: { 'registry.example.com': 'test' } },
      env,
    });
    expect(await store.get('registry.example.com')).toEqual({
      username: 'helper-user',
      password: 'helper-pass',
    });
    expect(await readFile(recordFile('argv'), 'utf8')).toBe('get\n');
    expect(await readFile(recordFile('stdin'), 'utf8')).toBe('registry.example.com');
  });

  test('credsStore answers for every host; Docker Hub is asked as its legacy URL', async () => {
    const store = dockerConfigCredentials({ config: { credsStore: 'test' }, env });
    expect(await store.get('docker.io')).toEqual({ username: 'hub-helper', password: 'hub-pass' });
    expect(await readFile(recordFile('stdin'), 'utf8')).toBe(DOCKER_HUB_AUTH_KEY);
    expect(await store.get('token.example.com')).toEqual({ token: 'identity-tok' });
    expect(await store.get('unknown.example.com')).toBeUndefined();
  });

  test('credsStore without the host falls back to the inline auths', async () => {
    const store = dockerConfigCredentials({
      config: { credsStore: 'test', auths: { 'unknown.example.com': { auth: b64('x:y') } } },
      env,
    });
    expect(await store.get('unknown.example.com')).toEqual({ username: 'x', password: 'y' });
  });

  test('a failing helper is a UserError naming it, without its output secrets', async () => {
    const store = dockerConfigCredentials({
      config: { credHelpers: { 'broken.example.com': 'test', 'gone.example.com': 'missing' } },
      env,
    });
    await expect(store.get('broken.example.com')).rejects.toThrow(
      'docker-credential-test get for broken.example.com failed with exit code 3: keychain locked',
    );
    await expect(store.get('gone.example.com')).rejects.toThrow(UserError);
  });
});

describe('static and chained stores', () => {
  test('static entries match any spelling of the host', async () => {
    const store = staticCredentials({ 'docker.io': { username: 'u', password: 'p' } });
    expect(await store.get('index.docker.io')).toEqual({ username: 'u', password: 'p' });
    expect(await store.get(DOCKER_HUB_AUTH_KEY)).toEqual({ username: 'u', password: 'p' });
    expect(await store.get('ghcr.io')).toBeUndefined();
  });

  test('the first store with an answer wins', async () => {
    const asked: string[] = [];
    const store = chainCredentials([
      staticCredentials({ 'ghcr.io': { username: 'explicit', password: '1' } }),
      { get: async (host) => (asked.push(host), { username: 'config', password: '2' }) },
    ]);
    expect(await store.get('ghcr.io')).toEqual({ username: 'explicit', password: '1' });
    expect(asked).toEqual([]);
    expect(await store.get('quay.io')).toEqual({ username: 'config', password: '2' });
    expect(asked).toEqual(['quay.io']);
  });
});

describe('writeAuthFile', () => {
  test('writes a private Docker config, and remove() deletes its folder', async () => {
    const file = await writeAuthFile({
      'docker.io': { username: 'hub', password: 'h:p' },
      '127.0.0.1:5000': { username: 'local', password: 'pw' },
    });
    expect(file.path).toBe(join(file.dir, 'config.json'));
    expect((await stat(file.dir)).mode & 0o777).toBe(0o700);
    expect((await stat(file.path)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(file.path, 'utf8'))).toEqual({
      auths: {
        [DOCKER_HUB_AUTH_KEY]: { auth: b64('hub:h:p') },
        '127.0.0.1:5000': { auth: b64('local:pw') },
      },
    });
    // What buildah, buildx and Kaniko read, the Docker config reader reads back.
    const back = dockerConfigCredentials({ env: { DOCKER_CONFIG: file.dir } });
    expect(await back.get('docker.io')).toEqual({ username: 'hub', password: 'h:p' });

    await file.remove();
    await expect(stat(file.dir)).rejects.toMatchObject({ code: 'ENOENT' });
    await file.remove();
  });

  test('two runs get two folders', async () => {
    const [a, b] = await Promise.all([writeAuthFile({}), writeAuthFile({})]);
    expect(a.dir).not.toBe(b.dir);
    expect(JSON.parse(await readFile(a.path, 'utf8'))).toEqual({ auths: {} });
    await Promise.all([a.remove(), b.remove()]);
  });
});
