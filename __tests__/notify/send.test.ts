import { createHmac } from 'node:crypto';
import { notify } from '../../src/notify/notify.js';
import type { NotifySettings } from '../../src/notify/notify.js';
import {
  DIGEST,
  SHA,
  fixtureOutcome,
  fixturePlan,
  hang,
  recordingHost,
  replyWith,
  startServer,
} from './fixtures.js';

type Server = Awaited<ReturnType<typeof startServer>>;
let server: Server | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const CONTEXT = {
  repository: 'acme/images',
  runUrl: 'https://github.com/acme/images/actions/runs/42',
};
const HOOK_PATH = '/services/T000/B000/XXXXSECRETXXXX';
const TOKEN = 'xoxb-test-token-1234';
const HMAC_SECRET = 'hmac-shared-secret';

/** What Slack receives for the fixture plan and outcome. */
const SLACK_MESSAGE = {
  text: '❌ Image build failed in acme/images: main @ 0123456 (1 built, 0 already built, 1 failed)',
  blocks: [
    {
      type: 'header',
      text: {
        type: 'plain_text',
        text: '❌ Image build failed in acme/images: main @ 0123456',
        emoji: true,
      },
    },
    {
      type: 'context',
      elements: [
        {
          type: 'mrkdwn',
          text: 'branch `main` · commit `0123456` · push · <https://github.com/acme/images/actions/runs/42|View run>',
        },
      ],
    },
    { type: 'section', text: { type: 'mrkdwn', text: '*1 built, 0 already built, 1 failed*' } },
    { type: 'divider' },
    {
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: `:white_check_mark: *base* built in 12.3 s\n\`ghcr.io/acme/base@${DIGEST}\`\ntags: \`${SHA}\` \`main\``,
      },
    },
    {
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: ':x: *api* failed\n`ghcr.io/acme/api`\n> RUN npm ci exited with 1 &lt;stderr &amp; more&gt;',
      },
    },
    {
      type: 'context',
      elements: [
        { type: 'mrkdwn', text: 'Not moved, because not every image succeeded: `latest`' },
      ],
    },
  ],
};

const FAST = { retryDelayMs: 0 };

describe('notify: Slack incoming webhook', () => {
  it('posts the exact message as JSON', async () => {
    server = await startServer();
    const { host, warnings, infos, masked } = recordingHost();
    const url = server.url(HOOK_PATH);
    await notify(
      fixturePlan(),
      fixtureOutcome(),
      { slack: { kind: 'webhook', url }, context: CONTEXT },
      { host, ...FAST },
    );
    expect(warnings).toEqual([]);
    expect(infos).toEqual(['notified Slack']);
    expect(masked).toEqual(expect.arrayContaining([url, HOOK_PATH]));
    expect(server.received).toHaveLength(1);
    const [request] = server.received;
    expect(request?.method).toBe('POST');
    expect(request?.url).toBe(HOOK_PATH);
    expect(request?.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(JSON.parse(request?.body ?? '')).toEqual(SLACK_MESSAGE);
  });

  it('retries once after a 500, then succeeds', async () => {
    server = await startServer([replyWith(500, 'oops')]);
    const { host, warnings, infos } = recordingHost();
    await notify(
      fixturePlan(),
      fixtureOutcome(),
      { slack: { kind: 'webhook', url: server.url(HOOK_PATH) } },
      { host, ...FAST },
    );
    expect(server.received).toHaveLength(2);
    expect(server.received[1]?.body).toBe(server.received[0]?.body);
    expect(warnings).toEqual([]);
    expect(infos).toEqual(['notified Slack']);
  });

  it('warns after two 500s, without the URL, and resolves', async () => {
    server = await startServer([replyWith(500, 'no_service'), replyWith(500, 'no_service')]);
    const { host, warnings } = recordingHost();
    const url = server.url(HOOK_PATH);
    await expect(
      notify(
        fixturePlan(),
        fixtureOutcome(),
        { slack: { kind: 'webhook', url } },
        { host, ...FAST },
      ),
    ).resolves.toBeUndefined();
    expect(server.received).toHaveLength(2);
    expect(warnings).toEqual([
      'notification to Slack failed: HTTP 500 Internal Server Error: no_service (tried twice)',
    ]);
  });

  it('does not retry a 4xx', async () => {
    server = await startServer([replyWith(404, 'no_team')]);
    const { host, warnings } = recordingHost();
    await notify(
      fixturePlan(),
      fixtureOutcome(),
      { slack: { kind: 'webhook', url: server.url(HOOK_PATH) } },
      { host, ...FAST },
    );
    expect(server.received).toHaveLength(1);
    expect(warnings).toEqual(['notification to Slack failed: HTTP 404 Not Found: no_team']);
  });

  it('gives up on a server that never answers, after the timeout', async () => {
    server = await startServer([hang, hang]);
    const { host, warnings } = recordingHost();
    const started = Date.now();
    await notify(
      fixturePlan(),
      fixtureOutcome(),
      { slack: { kind: 'webhook', url: server.url(HOOK_PATH) } },
      { host, timeoutMs: 200, ...FAST },
    );
    expect(Date.now() - started).toBeLessThan(3000);
    expect(server.received).toHaveLength(1);
    expect(warnings).toEqual(['notification to Slack failed: no answer within 0.2 s']);
  });

  it('retries a refused connection once, then warns without the URL', async () => {
    server = await startServer();
    const url = server.url(HOOK_PATH);
    await server.close();
    server = undefined;
    const { host, warnings } = recordingHost();
    await notify(
      fixturePlan(),
      fixtureOutcome(),
      { slack: { kind: 'webhook', url } },
      { host, ...FAST },
    );
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^notification to Slack failed: fetch failed .*\(tried twice\)$/);
    expect(warnings[0]).not.toContain(HOOK_PATH);
    expect(warnings[0]).not.toContain('XXXXSECRETXXXX');
  });
});

describe('notify: Slack chat.postMessage', () => {
  it('posts the message to the channel with the bot token', async () => {
    server = await startServer([replyWith(200, JSON.stringify({ ok: true, ts: '1.2' }))]);
    const { host, warnings, infos, masked } = recordingHost();
    await notify(
      fixturePlan(),
      fixtureOutcome(),
      {
        slack: {
          kind: 'api',
          token: TOKEN,
          channel: 'C0123',
          apiUrl: server.url('/api/chat.postMessage'),
        },
        context: CONTEXT,
      },
      { host, ...FAST },
    );
    expect(warnings).toEqual([]);
    expect(infos).toEqual(['notified Slack']);
    expect(masked).toContain(TOKEN);
    const [request] = server.received;
    expect(request?.url).toBe('/api/chat.postMessage');
    expect(request?.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(JSON.parse(request?.body ?? '')).toEqual({ channel: 'C0123', ...SLACK_MESSAGE });
  });

  it('treats ok: false as a failure, and never shows the token', async () => {
    server = await startServer([
      replyWith(200, JSON.stringify({ ok: false, error: 'channel_not_found' }), {
        'content-type': 'application/json',
      }),
    ]);
    const { host, warnings } = recordingHost();
    await notify(
      fixturePlan(),
      fixtureOutcome(),
      {
        slack: {
          kind: 'api',
          token: TOKEN,
          channel: 'C404',
          apiUrl: server.url('/api/chat.postMessage'),
        },
      },
      { host, ...FAST },
    );
    expect(server.received).toHaveLength(1);
    expect(warnings).toEqual([
      'notification to Slack failed: Slack refused the message: channel_not_found',
    ]);
  });

  it('hides the token and URLs even when the server echoes them', async () => {
    const echo = `invalid_auth for ${TOKEN} at http://127.0.0.1/hook`;
    server = await startServer([replyWith(401, echo)]);
    const { host, warnings } = recordingHost();
    await notify(
      fixturePlan(),
      fixtureOutcome(),
      {
        slack: {
          kind: 'api',
          token: TOKEN,
          channel: 'C1',
          apiUrl: server.url('/api/chat.postMessage'),
        },
      },
      { host, ...FAST },
    );
    expect(warnings).toEqual([
      'notification to Slack failed: HTTP 401 Unauthorized: invalid_auth for *** at <url>',
    ]);
  });
});

describe('notify: generic webhook', () => {
  it('posts the JSON payload signed with HMAC-SHA256', async () => {
    server = await startServer();
    const { host, warnings, infos, masked } = recordingHost();
    await notify(
      fixturePlan(),
      fixtureOutcome(),
      {
        webhook: { url: server.url('/hooks/images?key=abc123'), secret: HMAC_SECRET },
        context: CONTEXT,
      },
      { host, ...FAST },
    );
    expect(warnings).toEqual([]);
    expect(infos).toEqual(['notified the webhook']);
    expect(masked).toEqual(expect.arrayContaining([HMAC_SECRET, '/hooks/images?key=abc123']));
    const [request] = server.received;
    expect(request?.url).toBe('/hooks/images?key=abc123');
    expect(JSON.parse(request?.body ?? '')).toEqual({
      version: 1,
      ok: false,
      event: {
        platform: 'github',
        kind: 'push',
        sourceEvent: 'push',
        ref: 'main',
        refType: 'branch',
        sha: SHA,
        isDefaultBranch: true,
        repository: 'acme/images',
        runUrl: 'https://github.com/acme/images/actions/runs/42',
      },
      images: [
        {
          name: 'base',
          status: 'built',
          repository: 'ghcr.io/acme/base',
          digest: DIGEST,
          tags: [SHA, 'main'],
          detail: null,
        },
        {
          name: 'api',
          status: 'failed',
          repository: 'ghcr.io/acme/api',
          digest: null,
          tags: [],
          detail: 'RUN npm ci exited with 1 <stderr & more>',
        },
      ],
      heldBack: ['latest'],
    });
    const expected = createHmac('sha256', HMAC_SECRET)
      .update(request?.body ?? '')
      .digest('hex');
    expect(request?.headers['x-image-builder-signature']).toBe(`sha256=${expected}`);
  });

  it('sends no signature without a secret', async () => {
    server = await startServer();
    const { host } = recordingHost();
    await notify(fixturePlan(), fixtureOutcome(), { webhook: { url: server.url('/h') } }, { host });
    expect(server.received[0]?.headers['x-image-builder-signature']).toBeUndefined();
  });

  it('sends to Slack and the webhook together; one failing does not stop the other', async () => {
    server = await startServer([replyWith(500), replyWith(500)]);
    const other = await startServer();
    try {
      const { host, warnings, infos } = recordingHost();
      const settings: NotifySettings = {
        slack: { kind: 'webhook', url: server.url(HOOK_PATH) },
        webhook: { url: other.url('/h'), secret: HMAC_SECRET },
      };
      await notify(fixturePlan(), fixtureOutcome(), settings, { host, ...FAST });
      expect(infos).toEqual(['notified the webhook']);
      expect(warnings).toEqual([
        'notification to Slack failed: HTTP 500 Internal Server Error (tried twice)',
      ]);
      expect(other.received).toHaveLength(1);
    } finally {
      await other.close();
    }
  });

  it('warns about a malformed URL without showing it', async () => {
    const { host, warnings } = recordingHost();
    await notify(
      fixturePlan(),
      fixtureOutcome(),
      { webhook: { url: 'not a url secret-part' } },
      { host },
    );
    expect(warnings).toEqual([
      'notification to the webhook failed: the webhook URL is not an http(s) URL',
    ]);
  });

  it('passes problems of the settings on as warnings, and sends nothing without receivers', async () => {
    const { host, warnings, infos } = recordingHost();
    await notify(
      fixturePlan(),
      fixtureOutcome(),
      { problems: ['SLACK_TOKEN is set but…'] },
      { host },
    );
    expect(warnings).toEqual(['SLACK_TOKEN is set but…']);
    expect(infos).toEqual([]);
  });
});
