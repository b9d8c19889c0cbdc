// A token server for the registry's `auth: token` mode
// (https://distribution.github.io/distribution/spec/auth/token/): GET /token with `service`
// and `scope` params (Basic-authenticated or anonymous), and the OAuth2 refresh-token grant
// as POST /token. It signs ES256 JWTs with a key made here; the registry trusts the X.509
// certificate openssl makes for that key (`rootcertbundle`).
//
// distribution 2.8 finds the signing key by the JWT header: `x5c` (a chain it verifies
// against the bundle), `jwk`, or `kid` — a libtrust fingerprint of a bundle key.
import { execFileSync } from 'node:child_process';
import { X509Certificate, createHash, generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RegistryOptions } from './registry.js';

export interface TokenServerOptions {
  service?: string;
  issuer?: string;
  /** Users allowed everything they ask for; anonymous callers are granted nothing. */
  users?: Record<string, string>;
  /** OAuth2 refresh tokens (identity tokens) and the user each stands for. */
  refreshTokens?: Record<string, string>;
  /** How the JWT names its key: `kid` (libtrust fingerprint) or the `x5c` chain. */
  keyHeader?: 'kid' | 'x5c';
  /** `expires_in` of the answers (seconds); omitted from the answer when undefined. */
  expiresIn?: number;
  /** The JSON field holding the token. */
  field?: 'token' | 'access_token';
  /** This many first tokens are issued already expired (beyond the registry's leeway). */
  expiredTokens?: number;
}

export interface TokenRequest {
  method: string;
  grantType?: string;
  service?: string;
  scopes: string[];
  /** Who authenticated (Basic user, or the user of a refresh token), if anyone. */
  user?: string;
  /** Whether an Authorization header came at all. */
  authorization: boolean;
}

export interface TokenServer {
  realm: string;
  service: string;
  issuer: string;
  /** The certificate the registry trusts. */
  certFile: string;
  requests: TokenRequest[];
  /** Options for startRegistry({ tokenAuth }). */
  registryAuth: NonNullable<RegistryOptions['tokenAuth']>;
  stop(): Promise<void>;
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function base32(bytes: Buffer): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

/**
 * libtrust's key ID: the first 240 bits of sha256(DER SubjectPublicKeyInfo), base32, in
 * groups of four joined by `:` (github.com/docker/libtrust util.go keyIDFromCryptoKey).
 */
export function libtrustKeyId(spkiDer: Buffer): string {
  const encoded = base32(createHash('sha256').update(spkiDer).digest().subarray(0, 30));
  return encoded.match(/.{4}/g)?.join(':') ?? encoded;
}

const b64url = (data: Buffer | string): string => Buffer.from(data).toString('base64url');

export async function startTokenServer(options: TokenServerOptions = {}): Promise<TokenServer> {
  const service = options.service ?? 'test-registry';
  const issuer = options.issuer ?? 'test-issuer';
  const dir = await mkdtemp(join(tmpdir(), 'image-builder-token-'));
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const keyFile = join(dir, 'key.pem');
  const certFile = join(dir, 'cert.pem');
  await writeFile(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  execFileSync(
    'openssl',
    ['req', '-x509', '-new', '-key', keyFile, '-subj', '/CN=test', '-days', '1', '-out', certFile],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const cert = new X509Certificate(await readFile(certFile));
  const kid = libtrustKeyId(cert.publicKey.export({ type: 'spki', format: 'der' }));
  const header =
    options.keyHeader === 'x5c'
      ? { typ: 'JWT', alg: 'ES256', x5c: [cert.raw.toString('base64')] }
      : { typ: 'JWT', alg: 'ES256', kid };

  let issued = 0;
  const makeToken = (subject: string, scopes: string[], granted: boolean): string => {
    const now = Math.floor(Date.now() / 1000);
    const expired = issued < (options.expiredTokens ?? 0);
    issued++;
    const access = granted
      ? scopes.map((scope) => {
          const last = scope.lastIndexOf(':');
          const first = scope.indexOf(':');
          return {
            type: scope.slice(0, first),
            name: scope.slice(first + 1, last),
            actions: scope.slice(last + 1).split(','),
          };
        })
      : [];
    const claims = {
      iss: issuer,
      sub: subject,
      aud: service,
      // The registry allows 60 s of clock skew either way.
      exp: expired ? now - 300 : now + (options.expiresIn ?? 300),
      nbf: expired ? now - 600 : now - 10,
      iat: expired ? now - 600 : now,
      jti: randomUUID(),
      access,
    };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const signature = sign('sha256', Buffer.from(input), {
      key: privateKey,
      dsaEncoding: 'ieee-p1363',
    });
    return `${input}.${b64url(signature)}`;
  };

  const requests: TokenRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://token');
      const reply = (status: number, body: unknown): void => {
        res.writeHead(status, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (url.pathname !== '/token') return reply(404, { details: 'not found' });
      const record: TokenRequest = {
        method: req.method ?? 'GET',
        scopes: [],
        authorization: req.headers.authorization !== undefined,
      };
      requests.push(record);
      let user: string | undefined;
      if (req.method === 'POST') {
        const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
        record.grantType = form.get('grant_type') ?? undefined;
        record.service = form.get('service') ?? undefined;
        record.scopes = (form.get('scope') ?? '').split(' ').filter(Boolean);
        user = options.refreshTokens?.[form.get('refresh_token') ?? ''];
        if (record.grantType !== 'refresh_token' || !user) {
          return reply(401, { error: 'invalid_grant' });
        }
      } else {
        record.service = url.searchParams.get('service') ?? undefined;
        record.scopes = url.searchParams.getAll('scope');
        const header = req.headers.authorization;
        if (header) {
          const decoded = Buffer.from(header.replace(/^Basic /, ''), 'base64').toString('utf8');
          const colon = decoded.indexOf(':');
          const name = decoded.slice(0, colon);
          if (!header.startsWith('Basic ') || options.users?.[name] !== decoded.slice(colon + 1)) {
            return reply(401, { details: 'invalid username or password' });
          }
          user = name;
        }
      }
      if (user) record.user = user;
      const token = makeToken(user ?? '', record.scopes, user !== undefined);
      const body: Record<string, unknown> = { [options.field ?? 'token']: token };
      if (options.expiresIn !== undefined) body.expires_in = options.expiresIn;
      body.issued_at = new Date().toISOString();
      reply(200, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const realm = `http://127.0.0.1:${port}/token`;
  return {
    realm,
    service,
    issuer,
    certFile,
    requests,
    registryAuth: { realm, service, issuer, rootCertBundle: certFile },
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
