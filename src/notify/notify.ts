// Telling the team at the end of a build: Slack, and any webhook as JSON. A notification that
// cannot be delivered is a warning, never a failed build; its URLs and tokens are secrets.
import type { BuildOutcome } from '../build/run-build.js';
import type { Plan } from '../core/plan.js';
import type { Host } from '../host/host.js';
import { sendSlack, slackMessage } from './slack.js';
import type { SlackTarget } from './slack.js';
import {
  DEFAULT_RETRY_DELAY_MS,
  DEFAULT_TIMEOUT_MS,
  NotifyError,
  redact,
  sendWebhook,
  webhookPayload,
} from './webhook.js';
import type { FetchLike, MessageContext, SendOptions, WebhookTarget } from './webhook.js';

export type { SlackTarget } from './slack.js';
export type { MessageContext, WebhookTarget } from './webhook.js';

export interface NotifySettings {
  slack?: SlackTarget;
  webhook?: WebhookTarget;
  /** Links and names the plan does not carry. */
  context?: MessageContext;
  /** Settings found incomplete (a token without a channel…): each becomes a warning. */
  problems?: string[];
}

export interface NotifyDeps {
  fetch?: FetchLike;
  host: Pick<Host, 'warning' | 'mask' | 'info'>;
  /** Per attempt; 10 s unless told. */
  timeoutMs?: number;
  /** Before the one retry; 1 s unless told. */
  retryDelayMs?: number;
}

type Env = Readonly<Record<string, string | undefined>>;

function read(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

/**
 * Notification settings from the environment: `SLACK_WEBHOOK_URL`, or `SLACK_TOKEN` with
 * `SLACK_CHANNEL_ID`; `IMAGE_BUILDER_WEBHOOK_URL` with an optional
 * `IMAGE_BUILDER_WEBHOOK_SECRET`; the run's link from GitHub's or GitLab's variables.
 */
export function notifySettingsFromEnv(env: Env): NotifySettings {
  const settings: NotifySettings = {};
  const problems: string[] = [];

  const slackUrl = read(env, 'SLACK_WEBHOOK_URL');
  const token = read(env, 'SLACK_TOKEN');
  const channel = read(env, 'SLACK_CHANNEL_ID');
  if (slackUrl !== undefined) {
    settings.slack = { kind: 'webhook', url: slackUrl };
  } else if (token !== undefined && channel !== undefined) {
    settings.slack = { kind: 'api', token, channel };
  } else if (token !== undefined) {
    problems.push('SLACK_TOKEN is set but SLACK_CHANNEL_ID is not: no Slack notification');
  } else if (channel !== undefined) {
    problems.push(
      'SLACK_CHANNEL_ID is set but neither SLACK_TOKEN nor SLACK_WEBHOOK_URL is: no Slack notification',
    );
  }

  const webhookUrl = read(env, 'IMAGE_BUILDER_WEBHOOK_URL');
  const secret = read(env, 'IMAGE_BUILDER_WEBHOOK_SECRET');
  if (webhookUrl !== undefined) {
    settings.webhook = { url: webhookUrl, ...(secret !== undefined ? { secret } : {}) };
  } else if (secret !== undefined) {
    problems.push('IMAGE_BUILDER_WEBHOOK_SECRET is set but IMAGE_BUILDER_WEBHOOK_URL is not');
  }

  const context: MessageContext = {};
  const repository = read(env, 'GITHUB_REPOSITORY') ?? read(env, 'CI_PROJECT_PATH');
  if (repository !== undefined) context.repository = repository;
  const githubServer = read(env, 'GITHUB_SERVER_URL');
  const runId = read(env, 'GITHUB_RUN_ID');
  const runUrl =
    githubServer !== undefined && repository !== undefined && runId !== undefined
      ? `${githubServer}/${repository}/actions/runs/${runId}`
      : read(env, 'CI_PIPELINE_URL');
  if (runUrl !== undefined) context.runUrl = runUrl;
  if (Object.keys(context).length > 0) settings.context = context;

  if (problems.length > 0) settings.problems = problems;
  return settings;
}

/** The secrets of the settings, and the secret part of each URL (its path and query). */
function secretsOf(settings: NotifySettings): string[] {
  const secrets: string[] = [];
  const url = (value: string) => {
    secrets.push(value);
    try {
      const parsed = new URL(value);
      const rest = `${parsed.pathname}${parsed.search}`;
      if (rest.length >= 8) secrets.push(rest);
    } catch {
      // Not a URL: the whole value is masked, which is all there is.
    }
  };
  if (settings.slack?.kind === 'webhook') url(settings.slack.url);
  if (settings.slack?.kind === 'api') secrets.push(settings.slack.token);
  if (settings.webhook) {
    url(settings.webhook.url);
    if (settings.webhook.secret !== undefined) secrets.push(settings.webhook.secret);
  }
  return secrets;
}

function validUrl(value: string): boolean {
  try {
    const { protocol } = new URL(value);
    return protocol === 'https:' || protocol === 'http:';
  } catch {
    return false;
  }
}

/**
 * Sends the end-of-build message to every configured receiver, at the same time. Never
 * throws: each failure is one warning, with URLs and secrets left out.
 */
export async function notify(
  plan: Plan,
  outcome: BuildOutcome,
  settings: NotifySettings,
  deps: NotifyDeps,
): Promise<void> {
  const { host } = deps;
  const secrets = secretsOf(settings);
  for (const secret of secrets) host.mask(secret);
  for (const problem of settings.problems ?? []) host.warning(problem);

  const options: SendOptions = {
    fetch: deps.fetch ?? ((url, init) => globalThis.fetch(url, init)),
    timeoutMs: deps.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    retryDelayMs: deps.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS,
    secrets,
  };
  const context = settings.context ?? {};

  const attempt = async (to: string, send: () => Promise<void>) => {
    try {
      await send();
      host.info(`notified ${to}`);
    } catch (error) {
      const reason =
        error instanceof NotifyError
          ? error.message
          : redact(error instanceof Error ? error.message : String(error), secrets);
      host.warning(`notification to ${to} failed: ${reason}`);
    }
  };

  const sends: Promise<void>[] = [];
  const slack = settings.slack;
  if (slack) {
    sends.push(
      attempt('Slack', async () => {
        if (slack.kind === 'webhook' && !validUrl(slack.url)) {
          throw new NotifyError('the Slack webhook URL is not an http(s) URL');
        }
        await sendSlack(slack, slackMessage(plan, outcome, context), options);
      }),
    );
  }
  const webhook = settings.webhook;
  if (webhook) {
    sends.push(
      attempt('the webhook', async () => {
        if (!validUrl(webhook.url)) throw new NotifyError('the webhook URL is not an http(s) URL');
        await sendWebhook(webhook, webhookPayload(plan, outcome, context), options);
      }),
    );
  }
  await Promise.all(sends);
}
