// The workflows cannot run here, so their shape is checked here: every file parses, every
// `uses: ./` step passes only inputs action.yml declares, every third-party action is pinned
// by a full commit sha, and e2e.yml runs each backend against a registry on localhost:5000.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { parse } from 'yaml';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const WORKFLOWS = join(ROOT, '.github', 'workflows');

interface Step {
  uses?: string;
  with?: Record<string, unknown>;
  run?: string;
}

interface Job {
  'runs-on'?: string;
  services?: Record<string, { image?: string; ports?: string[] }>;
  steps?: Step[];
}

interface Workflow {
  on?: unknown;
  jobs?: Record<string, Job>;
}

const files = readdirSync(WORKFLOWS).filter((name) => /\.ya?ml$/.test(name));
const workflows = files.map(
  (name) => [name, parse(readFileSync(join(WORKFLOWS, name), 'utf8')) as Workflow] as const,
);
const action = parse(readFileSync(join(ROOT, 'action.yml'), 'utf8')) as {
  inputs: Record<string, unknown>;
};
const inputs = new Set(Object.keys(action.inputs));

function steps(): [string, string, Step][] {
  return workflows.flatMap(([file, workflow]) =>
    Object.entries(workflow.jobs ?? {}).flatMap(([job, definition]) =>
      (definition.steps ?? []).map((step) => [file, job, step] as [string, string, Step]),
    ),
  );
}

describe('workflows', () => {
  it('are there, including e2e.yml', () => {
    expect(files).toEqual(expect.arrayContaining(['e2e.yml', 'test.yml']));
  });

  it.each(workflows.map(([file, workflow]) => [file, workflow] as const))(
    '%s has triggers and jobs with steps',
    (_file, workflow) => {
      expect(workflow.on).toBeDefined();
      const jobs = Object.values(workflow.jobs ?? {});
      expect(jobs.length).toBeGreaterThan(0);
      for (const job of jobs) expect(job.steps?.length).toBeGreaterThan(0);
    },
  );

  it('pass only inputs that action.yml declares to `uses: ./`', () => {
    const local = steps().filter(([, , step]) => step.uses === './');
    expect(local.length).toBeGreaterThan(0);
    for (const [file, job, step] of local) {
      for (const key of Object.keys(step.with ?? {})) {
        expect({ file, job, input: key, declared: inputs.has(key) }).toEqual({
          file,
          job,
          input: key,
          declared: true,
        });
      }
    }
  });

  it('pin every third-party action by a full commit sha', () => {
    const remote = steps().filter(
      ([, , step]) =>
        step.uses !== undefined &&
        !step.uses.startsWith('./') &&
        !step.uses.startsWith('docker://'),
    );
    expect(remote.length).toBeGreaterThan(0);
    for (const [file, job, step] of remote) {
      expect({ file, job, uses: step.uses }).toEqual({
        file,
        job,
        uses: expect.stringMatching(/^[\w.-]+\/[\w./-]+@[0-9a-f]{40}$/),
      });
    }
  });
});

describe('e2e.yml', () => {
  const e2e = workflows.find(([file]) => file === 'e2e.yml')?.[1] as Workflow;

  it.each(['buildx', 'buildah', 'kaniko'])(
    'builds the example images with %s against registry:2 on localhost:5000',
    (backend) => {
      const job = e2e.jobs?.[backend];
      expect(job?.['runs-on']).toBe('ubuntu-latest');
      expect(job?.services?.registry).toEqual({ image: 'registry:2', ports: ['5000:5000'] });
      const text = JSON.stringify(job?.steps);
      expect(text).toContain(`builder: ${backend}`);
      expect(text).toContain('localhost:5000/e2e');
      expect(text).toContain('images/base/rootfs/bin/busybox');
      expect(job?.steps?.at(-1)?.run).toBe('node --input-type=module -e "$VERIFY"');
    },
  );

  it('runs the action itself for buildx (after docker/setup-buildx-action) and buildah', () => {
    for (const backend of ['buildx', 'buildah']) {
      const job = e2e.jobs?.[backend] as Job;
      const uses = (job.steps ?? []).map((step) => step.uses?.replace(/@.*/, ''));
      expect(uses).toContain('./');
      const local = job.steps?.find((step) => step.uses === './');
      expect(local?.with).toEqual({
        'working-directory': 'images',
        config: 'e2e.image-builder.yml',
        registry: 'localhost:5000/e2e',
        all: 'true',
      });
    }
    const buildx = (e2e.jobs?.buildx?.steps ?? []).map((step) => step.uses?.replace(/@.*/, ''));
    expect(buildx.indexOf('docker/setup-buildx-action')).toBeLessThan(buildx.indexOf('./'));
  });

  it('runs the CLI inside the Kaniko image of docs/gitlab-ci.md', () => {
    const run = (e2e.jobs?.kaniko?.steps ?? []).map((step) => step.run ?? '').join('\n');
    expect(run).toContain('FROM ghcr.io/osscontainertools/kaniko:');
    expect(run).toContain('apk add --no-cache nodejs git');
    expect(run).toMatch(
      /--entrypoint node\s+\\\s+image-builder-kaniko:e2e\s+\\\s+dist\/cli\/index\.js build /,
    );
    const docs = readFileSync(join(ROOT, 'docs', 'gitlab-ci.md'), 'utf8');
    expect(docs).toContain('apk add --no-cache nodejs git');
  });
});
