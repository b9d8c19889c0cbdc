import { detectPlatform, loadEvent } from './adapters/ci-env.js';
import { RepoFiles } from './adapters/files.js';
import { Git } from './adapters/git.js';
import { githubCompare } from './changes/detect.js';
import type { Settings } from './config/settings.js';
import { matrixOf } from './core/plan.js';
import { renderDot, renderMermaid, renderPlanText } from './core/render.js';
import type { Host } from './host/host.js';
import { makePlan } from './make-plan.js';
import * as github from '@actions/github';
import { OUTPUTS } from './names.js';
import { buildPlan } from './build/build-command.js';
import { buildOutputs, renderBuildText } from './build/report.js';
import { UserError } from './core/errors.js';

type Env = Record<string, string | undefined>;

/** Orchestration only: settings -> event -> plan -> outputs. */
export async function run(settings: Settings, host: Host, env: Env = process.env): Promise<void> {
  const git = new Git(settings.repoDir);
  const files = new RepoFiles(settings.repoDir);
  const platform = detectPlatform(env);
  const event = await loadEvent(platform, env, git, {
    ...(settings.since !== undefined ? { since: settings.since } : {}),
    all: settings.all,
    ...(settings.images !== undefined ? { requestedImages: settings.images } : {}),
  });

  let compare;
  if (platform === 'github' && settings.githubToken && event.repositorySlug) {
    const [owner, repo] = event.repositorySlug.split('/') as [string, string];
    compare = githubCompare(github.getOctokit(settings.githubToken), owner, repo);
  }

  const planned = await makePlan({
    git,
    files,
    event,
    ...(settings.configPath !== undefined ? { configPath: settings.configPath } : {}),
    ...(settings.registry !== undefined ? { registry: settings.registry } : {}),
    ...(settings.changedFiles !== undefined ? { changedFiles: settings.changedFiles } : {}),
    ...(compare ? { compare } : {}),
    log: (line) => host.info(line),
  });
  const { plan } = planned;

  for (const warning of plan.warnings) {
    host.warning(warning.message, {
      file: warning.file,
      ...(warning.line !== undefined ? { line: warning.line } : {}),
    });
  }
  host.setOutput(OUTPUTS.plan, JSON.stringify(plan));
  host.setOutput(OUTPUTS.affected, JSON.stringify(plan.images.map((image) => image.name)));
  host.setOutput(OUTPUTS.matrix, JSON.stringify(matrixOf(plan)));

  if (settings.command === 'graph') {
    host.info(settings.graphFormat === 'dot' ? renderDot(plan) : renderMermaid(plan));
  } else if (settings.json && settings.command === 'plan') {
    host.info(JSON.stringify(plan, null, 2));
  } else {
    host.info(renderPlanText(plan));
  }

  if (settings.command === 'build') {
    const outcome = await buildPlan(planned, settings, host, env);
    for (const [name, value] of Object.entries(buildOutputs(outcome)))
      host.setOutput(OUTPUTS[name as keyof typeof OUTPUTS], value);
    host.info(renderBuildText(outcome));
    await host.finish();
    if (!outcome.ok) {
      const failed = outcome.images.filter((image) => image.status === 'failed');
      throw new UserError(
        `${failed.length} of ${outcome.images.length} images failed: ` +
          failed.map((image) => `${image.name} (${image.detail ?? 'failed'})`).join('; '),
      );
    }
    return;
  }
  await host.finish();
}
