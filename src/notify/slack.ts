// The Slack message (Block Kit) for the end of a build, and its two ways in: an incoming
// webhook URL, or a bot token and a channel through chat.postMessage.
import type { BuildOutcome, ImageOutcome } from '../build/run-build.js';
import type { Plan } from '../core/plan.js';
import { NotifyError, post } from './webhook.js';
import type { MessageContext, SendOptions } from './webhook.js';

export type SlackBlock = Record<string, unknown>;

export interface SlackMessage {
  /** The fallback shown in notifications and by clients without blocks. */
  text: string;
  blocks: SlackBlock[];
}

export type SlackTarget =
  | { kind: 'webhook'; url: string }
  | { kind: 'api'; token: string; channel: string; apiUrl?: string };

export const SLACK_POST_MESSAGE_URL = 'https://slack.com/api/chat.postMessage';

/** Slack's limits: blocks per message, characters of a section and of a header. */
export const MAX_BLOCKS = 50;
const SECTION_MAX = 3000;
const HEADER_MAX = 150;
/** Up to this many images get a section each; more share a table in a code block. */
export const SECTIONS_UP_TO = 10;
const DETAIL_MAX = 500;
const FAILURES_LISTED = 5;

const STATUS_WORD: Record<ImageOutcome['status'], string> = {
  built: 'built',
  reused: 'already built',
  failed: 'failed',
  skipped: 'skipped',
};
const STATUS_EMOJI: Record<ImageOutcome['status'], string> = {
  built: ':white_check_mark:',
  reused: ':recycle:',
  failed: ':x:',
  skipped: ':fast_forward:',
};

/** Slack's mrkdwn needs only these three escaped. */
function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Text inside a code span or block: escaped, and unable to close it. */
function code(text: string): string {
  return esc(text).replace(/`/g, "'");
}

function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function shortSha(sha: string): string {
  return sha.slice(0, 7);
}

function counts(outcome: BuildOutcome): string {
  const count = (status: ImageOutcome['status']) =>
    outcome.images.filter((image) => image.status === status).length;
  const parts = [`${count('built')} built`, `${count('reused')} already built`];
  if (count('failed') > 0) parts.push(`${count('failed')} failed`);
  if (count('skipped') > 0) parts.push(`${count('skipped')} skipped`);
  return parts.join(', ');
}

function title(plan: Plan, outcome: BuildOutcome, context: MessageContext): string {
  const what = outcome.ok ? 'Images built' : 'Image build failed';
  const where = context.repository !== undefined ? ` in ${context.repository}` : '';
  return `${what}${where}: ${plan.event.ref} @ ${shortSha(plan.event.sha)}`;
}

function imageSection(image: ImageOutcome): SlackBlock {
  const seconds = image.seconds !== undefined ? ` in ${image.seconds.toFixed(1)} s` : '';
  const lines = [
    `${STATUS_EMOJI[image.status]} *${esc(image.name)}* ${STATUS_WORD[image.status]}${seconds}`,
  ];
  lines.push(
    image.digest !== undefined
      ? `\`${code(`${image.repository}@${image.digest}`)}\``
      : `\`${code(image.repository)}\``,
  );
  if (image.tags.length > 0) {
    lines.push(`tags: ${image.tags.map((tag) => `\`${code(tag)}\``).join(' ')}`);
  }
  if (image.detail !== undefined && image.detail !== '') {
    lines.push(`> ${esc(cut(image.detail, DETAIL_MAX)).replace(/\n/g, '\n> ')}`);
  }
  return { type: 'section', text: { type: 'mrkdwn', text: cut(lines.join('\n'), SECTION_MAX) } };
}

const ORDER: Record<ImageOutcome['status'], number> = {
  failed: 0,
  skipped: 1,
  built: 2,
  reused: 3,
};

/** Many images: one row each in a code block, failures first, cut with "and N more". */
function imageTable(images: readonly ImageOutcome[]): SlackBlock {
  const sorted = [...images].sort((a, b) => ORDER[a.status] - ORDER[b.status]);
  const nameWidth = Math.min(30, Math.max(...sorted.map((image) => image.name.length)));
  const statusWidth = Math.max(...sorted.map((image) => STATUS_WORD[image.status].length));
  const rows = sorted.map((image) => {
    const digest =
      image.digest !== undefined ? image.digest.replace(/^sha256:/, '').slice(0, 12) : '-';
    return [
      cut(image.name, 30).padEnd(nameWidth),
      STATUS_WORD[image.status].padEnd(statusWidth),
      digest.padEnd(12),
      image.tags.join(', '),
    ]
      .join('  ')
      .trimEnd();
  });
  const fence = '```';
  const room = SECTION_MAX - 2 * fence.length - 2 - 40;
  const shown: string[] = [];
  let used = 0;
  for (const row of rows) {
    const line = code(cut(row, 200));
    if (used + line.length + 1 > room) break;
    shown.push(line);
    used += line.length + 1;
  }
  if (shown.length < rows.length) shown.push(`… and ${rows.length - shown.length} more`);
  return {
    type: 'section',
    text: { type: 'mrkdwn', text: `${fence}\n${shown.join('\n')}\n${fence}` },
  };
}

function failureSection(images: readonly ImageOutcome[]): SlackBlock | undefined {
  const failed = images.filter((image) => image.status === 'failed');
  if (failed.length === 0) return undefined;
  const each = Math.floor((SECTION_MAX - 100) / Math.min(failed.length, FAILURES_LISTED)) - 20;
  const lines = failed
    .slice(0, FAILURES_LISTED)
    .map(
      (image) =>
        `:x: *${esc(image.name)}*: ${esc(cut(image.detail ?? 'failed', Math.min(each, DETAIL_MAX))).replace(/\n/g, ' ')}`,
    );
  if (failed.length > FAILURES_LISTED) {
    lines.push(`… and ${failed.length - FAILURES_LISTED} more failed`);
  }
  return { type: 'section', text: { type: 'mrkdwn', text: cut(lines.join('\n'), SECTION_MAX) } };
}

/** The end-of-build message: a header, the event, the counts, then the images. */
export function slackMessage(
  plan: Plan,
  outcome: BuildOutcome,
  context: MessageContext = {},
): SlackMessage {
  const { event } = plan;
  const headline = title(plan, outcome, context);
  const blocks: SlackBlock[] = [
    {
      type: 'header',
      text: {
        type: 'plain_text',
        text: cut(`${outcome.ok ? '✅' : '❌'} ${headline}`, HEADER_MAX),
        emoji: true,
      },
    },
  ];
  const about = [
    `${event.refType} \`${code(event.ref)}\``,
    `commit \`${code(shortSha(event.sha))}\``,
    esc(event.sourceEvent),
  ];
  if (context.runUrl !== undefined) about.push(`<${esc(context.runUrl)}|View run>`);
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: about.join(' · ') }] });

  if (outcome.images.length === 0) {
    blocks.push({
      type: 'section',
      text: { type: 'mrkdwn', text: 'No image was affected by this change.' },
    });
  } else {
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `*${counts(outcome)}*` } });
    blocks.push({ type: 'divider' });
    if (outcome.images.length <= SECTIONS_UP_TO) {
      blocks.push(...outcome.images.map(imageSection));
    } else {
      blocks.push(imageTable(outcome.images));
      const failures = failureSection(outcome.images);
      if (failures) blocks.push(failures);
    }
  }
  if (outcome.heldBack.length > 0) {
    blocks.push({
      type: 'context',
      elements: [
        {
          type: 'mrkdwn',
          text: cut(
            `Not moved, because not every image succeeded: ${outcome.heldBack.map((tag) => `\`${code(tag)}\``).join(' ')}`,
            SECTION_MAX,
          ),
        },
      ],
    });
  }
  return {
    text: `${outcome.ok ? '✅' : '❌'} ${headline} (${counts(outcome)})`,
    blocks: blocks.slice(0, MAX_BLOCKS),
  };
}

/** Delivers a message; a Slack API answer with `ok: false` is a failure too. */
export async function sendSlack(
  target: SlackTarget,
  message: SlackMessage,
  options: SendOptions,
): Promise<void> {
  if (target.kind === 'webhook') {
    await post(target.url, JSON.stringify(message), {}, options);
    return;
  }
  const body = JSON.stringify({ channel: target.channel, ...message });
  const answer = await post(
    target.apiUrl ?? SLACK_POST_MESSAGE_URL,
    body,
    { authorization: `Bearer ${target.token}` },
    options,
  );
  let parsed: unknown;
  try {
    parsed = JSON.parse(answer.body);
  } catch {
    throw new NotifyError('Slack answered with something other than JSON');
  }
  const reply = parsed as { ok?: unknown; error?: unknown };
  if (reply.ok !== true) {
    const error = typeof reply.error === 'string' ? reply.error : 'no reason given';
    throw new NotifyError(`Slack refused the message: ${error}`);
  }
}
