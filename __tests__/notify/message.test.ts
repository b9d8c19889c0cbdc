import { createHmac } from 'node:crypto';
import type { ImageOutcome } from '../../src/build/run-build.js';
import { notifySettingsFromEnv } from '../../src/notify/notify.js';
import { MAX_BLOCKS, SECTIONS_UP_TO, slackMessage } from '../../src/notify/slack.js';
import { redact, signature, webhookPayload } from '../../src/notify/webhook.js';
import { DIGEST, SHA, fixtureOutcome, fixturePlan } from './fixtures.js';

type Section = { type: string; text?: { text: string } };

function manyImages(count: number, failed: number): ImageOutcome[] {
  return Array.from({ length: count }, (_, index) =>
    index < count - failed
      ? {
          name: `image-${String(index).padStart(3, '0')}`,
          status: index % 2 === 0 ? 'built' : 'reused',
          repository: `registry.example.com/acme/image-${index}`,
          digest: DIGEST,
          tags: [SHA.slice(0, 7), 'main', 'latest'],
        }
      : {
          name: `broken-${index}`,
          status: 'failed',
          repository: `registry.example.com/acme/broken-${index}`,
          tags: [],
          detail: `step ${index} failed: ${'x'.repeat(900)}`,
        },
  );
}

describe('slackMessage', () => {
  it('has a header, the event, the counts and a section per image', () => {
    const message = slackMessage(fixturePlan(), fixtureOutcome());
    expect(message.text).toBe(
      '❌ Image build failed: main @ 0123456 (1 built, 0 already built, 1 failed)',
    );
    expect(message.blocks.map((block) => block.type)).toEqual([
      'header',
      'context',
      'section',
      'divider',
      'section',
      'section',
      'context',
    ]);
  });

  it('says so when it succeeded', () => {
    const outcome = { ...fixtureOutcome(), ok: true, heldBack: [] };
    outcome.images = outcome.images.filter((image) => image.status !== 'failed');
    const message = slackMessage(fixturePlan(), outcome);
    expect(message.blocks[0]).toEqual({
      type: 'header',
      text: { type: 'plain_text', text: '✅ Images built: main @ 0123456', emoji: true },
    });
    expect(message.blocks.at(-1)?.type).toBe('section');
  });

  it('puts many images in a table, failures first, within Slack limits', () => {
    const images = manyImages(200, 8);
    const message = slackMessage(fixturePlan(), { ok: false, heldBack: [], images });
    expect(message.blocks.length).toBeLessThanOrEqual(MAX_BLOCKS);
    expect(message.blocks.length).toBeLessThan(10);
    const sections = message.blocks.filter((block) => block.type === 'section') as Section[];
    for (const section of sections) expect(section.text?.text.length).toBeLessThanOrEqual(3000);
    const table = sections.find((section) => section.text?.text.startsWith('```'));
    const rows = table?.text?.text.split('\n') ?? [];
    expect(rows[1]).toMatch(/^broken-192 +failed +- *$/);
    expect(rows.at(-2)).toMatch(/^… and \d+ more$/);
    const shown = rows.length - 3;
    expect(rows.at(-2)).toBe(`… and ${200 - shown} more`);
    const failures = sections.find((section) => section.text?.text.startsWith(':x:'));
    expect(failures?.text?.text.split('\n')).toHaveLength(6);
    expect(failures?.text?.text).toContain('… and 3 more failed');
  });

  it('switches to the table just above the section limit', () => {
    const sectionsOnly = slackMessage(fixturePlan(), {
      ok: true,
      heldBack: [],
      images: manyImages(SECTIONS_UP_TO, 0),
    });
    expect(sectionsOnly.blocks).toHaveLength(4 + SECTIONS_UP_TO);
    const table = slackMessage(fixturePlan(), {
      ok: true,
      heldBack: [],
      images: manyImages(SECTIONS_UP_TO + 1, 0),
    });
    expect(table.blocks).toHaveLength(5);
    expect((table.blocks[4] as Section).text?.text).not.toContain('more');
  });

  it('tells when no image was affected', () => {
    const message = slackMessage(fixturePlan(), { ok: true, heldBack: [], images: [] });
    expect(message.blocks[2]).toEqual({
      type: 'section',
      text: { type: 'mrkdwn', text: 'No image was affected by this change.' },
    });
  });

  it('keeps the header within 150 characters and escapes mrkdwn', () => {
    const plan = fixturePlan();
    plan.event.ref = `feature/${'y'.repeat(200)}`;
    const message = slackMessage(plan, fixtureOutcome(), { repository: 'a<b>' });
    const header = message.blocks[0] as { text: { text: string } };
    expect(header.text.text.length).toBeLessThanOrEqual(150);
    expect(header.text.text.endsWith('…')).toBe(true);
  });
});

describe('webhookPayload', () => {
  it('leaves out what the context does not know', () => {
    const payload = webhookPayload(fixturePlan(), fixtureOutcome());
    expect(payload.event).toEqual({
      platform: 'github',
      kind: 'push',
      sourceEvent: 'push',
      ref: 'main',
      refType: 'branch',
      sha: SHA,
      isDefaultBranch: true,
    });
    expect(payload.images.map((image) => [image.name, image.digest])).toEqual([
      ['base', DIGEST],
      ['api', null],
    ]);
  });

  it('signs with HMAC-SHA256', () => {
    const body = '{"version":1}';
    expect(signature(body, 's3cret')).toBe(
      `sha256=${createHmac('sha256', 's3cret').update(body).digest('hex')}`,
    );
  });
});

describe('redact', () => {
  it('hides secrets and URLs', () => {
    expect(redact('bad https://hooks.slack.com/services/T/B/X for xoxb-1234', ['xoxb-1234'])).toBe(
      'bad <url> for ***',
    );
  });
});

describe('notifySettingsFromEnv', () => {
  it('reads nothing from an empty environment', () => {
    expect(notifySettingsFromEnv({})).toEqual({});
  });

  it('reads a Slack webhook URL first, then the webhook with its secret and the run link', () => {
    expect(
      notifySettingsFromEnv({
        SLACK_WEBHOOK_URL: ' https://hooks.slack.com/services/T/B/X ',
        SLACK_TOKEN: 'xoxb-1',
        SLACK_CHANNEL_ID: 'C1',
        IMAGE_BUILDER_WEBHOOK_URL: 'https://example.com/hook',
        IMAGE_BUILDER_WEBHOOK_SECRET: 'abc',
        GITHUB_SERVER_URL: 'https://github.com',
        GITHUB_REPOSITORY: 'acme/images',
        GITHUB_RUN_ID: '42',
      }),
    ).toEqual({
      slack: { kind: 'webhook', url: 'https://hooks.slack.com/services/T/B/X' },
      webhook: { url: 'https://example.com/hook', secret: 'abc' },
      context: {
        repository: 'acme/images',
        runUrl: 'https://github.com/acme/images/actions/runs/42',
      },
    });
  });

  it('reads a bot token and channel (seed 003), and GitLab links', () => {
    expect(
      notifySettingsFromEnv({
        SLACK_TOKEN: 'xoxb-1',
        SLACK_CHANNEL_ID: 'C1',
        SLACK_WORKSPACE_ID: 'T1',
        CI_PROJECT_PATH: 'group/images',
        CI_PIPELINE_URL: 'https://gitlab.com/group/images/-/pipelines/7',
      }),
    ).toEqual({
      slack: { kind: 'api', token: 'xoxb-1', channel: 'C1' },
      context: {
        repository: 'group/images',
        runUrl: 'https://gitlab.com/group/images/-/pipelines/7',
      },
    });
  });

  it('reports incomplete settings instead of guessing', () => {
    expect(notifySettingsFromEnv({ SLACK_TOKEN: 'xoxb-1', SLACK_CHANNEL_ID: '' })).toEqual({
      problems: ['SLACK_TOKEN is set but SLACK_CHANNEL_ID is not: no Slack notification'],
    });
    expect(notifySettingsFromEnv({ IMAGE_BUILDER_WEBHOOK_SECRET: 's' }).problems).toEqual([
      'IMAGE_BUILDER_WEBHOOK_SECRET is set but IMAGE_BUILDER_WEBHOOK_URL is not',
    ]);
  });
});
