import { tmpdir } from 'node:os';
import { detectPlatform, loadEvent } from './adapters/ci-env.js';
import { RepoFiles } from './adapters/files.js';
import { Git } from './adapters/git.js';
import { githubCompare } from './changes/detect.js';
import type { Settings } from './config/settings.js';
import { matrixOf } from './core/plan.js';
import { renderDot, renderMermaid, renderPlanText } from './core/render.js';
import type { Host } from './host/host.js';
import { makePlan } from './make-plan.js';
import { OUTPUTS } from './names.js';
import { buildPlan, registryAccess } from './build/build-command.js';
import { renderSummary } from './core/summary.js';
import { notify, notifySettingsFromEnv } from './notify/notify.js';
import { chunkMatrix } from './core/matrix.js';
import { gitlabChildPipeline } from './core/gitlab-pipeline.js';
import { planPromotion, promoteImages } from './promote/promote.js';
import type { PlanResult } from './make-plan.js';
import { buildOutputs, renderBuildText } from './build/report.js';
import { EventError, UserError } from './core/errors.js';
import { resolveEcrRegistry } from './registry/ecr.js';
import type { Exec } from './builders/types.js';

type Env = Record<string, string | undefined>;

/** What a run reaches the outside world through, where tests need to watch it. */
export interface RunDependencies {
  exec?: Exec;
}

/** Orchestration only: settings -> event -> plan -> outputs. */
export async function run(
  settings: Settings,
  host: Host,
  env: Env = process.env,
  dependencies: RunDependencies = {},
): Promise<void> {
  const git = new Git(settings.repoDir);
  const files = new RepoFiles(settings.repoDir);
  const platform = detectPlatform(env);
  const event = await loadEvent(platform, env, git, {
    ...(settings.since !== undefined ? { since: settings.since } : {}),
    all: settings.all,
    ...(settings.images !== undefined ? { requestedImages: settings.images } : {}),
  });

  // The event's commit must be the one we build: fetch it when a shallow checkout lacks it.
  if (
    platform !== 'local' &&
    !(await git.hasCommit(event.sha)) &&
    !(await git.fetchCommit(event.sha, 1))
  ) {
    throw new EventError(
      `the event's commit ${event.sha} is not in the repository: check out the commit the event is about`,
    );
  }

  let compare;
  if (platform === 'github' && settings.githubToken && event.repositorySlug) {
    const [owner, repo] = event.repositorySlug.split('/') as [string, string];
    // Loaded only here: @actions/github parses the event file when it loads, and a broken
    // file must end in our one clear message (from loadEvent above), not a stack trace.
    const github = await import('@actions/github');
    compare = githubCompare(github.getOctokit(settings.githubToken), owner, repo);
  }

  const planned = await makePlan({
    git,
    files,
    // Promotion is about tags in the registry, not about what changed: every image (or --images).
    event: settings.command === 'promote' ? { ...event, all: true } : event,
    ...(settings.configPath !== undefined ? { configPath: settings.configPath } : {}),
    ...(settings.registry !== undefined ? { registry: settings.registry } : {}),
    ...(settings.changedFiles !== undefined ? { changedFiles: settings.changedFiles } : {}),
    ...(compare ? { compare } : {}),
    // On GitLab the project's own registry is the default, as its docs teach.
    resolveRegistry: (value) =>
      value === '' && platform === 'gitlab' && env.CI_REGISTRY_IMAGE
        ? Promise.resolve(env.CI_REGISTRY_IMAGE)
        : resolveEcrRegistry(value, { env }),
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
  host.setOutput(OUTPUTS.matrices, JSON.stringify(chunkMatrix(plan)));

  if (settings.command === 'gitlab-pipeline') {
    host.info(
      gitlabChildPipeline(plan, {
        image: settings.jobImage ?? 'node:24',
        command: settings.jobCommand ?? 'npx --yes image-builder',
      }),
    );
    await host.finish();
    return;
  }

  if (settings.command === 'promote') {
    await promote(planned, settings, host, env);
    await host.finish();
    return;
  }

  if (settings.command === 'graph') {
    host.info(settings.graphFormat === 'dot' ? renderDot(plan) : renderMermaid(plan));
  } else if (settings.json && settings.command === 'plan') {
    host.info(JSON.stringify(plan, null, 2));
  } else {
    const title = `plan: ${plan.images.length} of ${plan.graph.length} images to build`;
    await host.group(title, async () => host.info(renderPlanText(plan)));
  }
  if (settings.command === 'plan') await host.summary(renderSummary(plan));

  if (settings.command === 'build') {
    const outcome = await buildPlan(planned, settings, host, env, dependencies.exec);
    for (const [name, value] of Object.entries(buildOutputs(outcome)))
      host.setOutput(OUTPUTS[name as keyof typeof OUTPUTS], value);
    host.info(renderBuildText(outcome));
    await host.summary(renderSummary(plan, outcome));
    // A failed notification is a warning inside notify(); it never fails the build.
    await notify(plan, outcome, notifySettingsFromEnv(env), { host });
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

/** Gives each image's `promoteFrom` manifest the `promoteTo` tags, through the registry API. */
async function promote(
  planned: PlanResult,
  settings: Settings,
  host: Host,
  env: Env,
): Promise<void> {
  const { plan, config } = planned;
  const items = planPromotion({
    images: plan.images,
    from: settings.promoteFrom as string,
    to: settings.promoteTo as string[],
  });
  const repositories = plan.images.map((image) => image.repository);
  const access = registryAccess(repositories, config, settings, host, env);
  try {
    const results = await promoteImages({
      client: access.client,
      items,
      log: (line) => host.info(line),
      // Large blobs crossing registries are staged on disk: the runner's own temp folder,
      // which CI empties after the job even if this process is killed.
      tempDir: env.RUNNER_TEMP || env.TMPDIR || tmpdir(),
    });
    for (const result of results) {
      for (const target of result.targets) {
        host.info(`${result.image}: ${target.ref} ${target.action} (${result.digest})`);
      }
    }
    host.setOutput(
      OUTPUTS.promoted,
      JSON.stringify(
        Object.fromEntries(
          results.map((result) => [
            result.image,
            { digest: result.digest, tags: result.targets.map((t) => t.ref) },
          ]),
        ),
      ),
    );
    host.info(
      `promoted ${results.length} image${results.length === 1 ? '' : 's'}; no layer was uploaded`,
    );
  } finally {
    access.close();
  }
}
