import { parse } from 'yaml';
import {
  GITLAB_JOB_KEYS,
  gitlabChildPipeline,
  gitlabJobName,
} from '../../src/core/gitlab-pipeline.js';
import type { Plan, PlannedImage } from '../../src/core/plan.js';

function image(name: string, level: number, parents: string[], rebuilt = parents): PlannedImage {
  return {
    name,
    level,
    parents,
    rebuiltParents: rebuilt,
    repository: `registry.gitlab.com/acme/${name}`,
  } as unknown as PlannedImage;
}

// The fixture monorepo: base → app, base → api, app+api → worker; tools' parent (ext) was
// not rebuilt, so tools needs nothing.
const plan = {
  images: [
    image('base', 0, []),
    image('tools', 0, ['ext'], []),
    image('app', 1, ['base']),
    image('api.v2', 1, ['base']),
    image('worker', 2, ['app', 'api.v2', 'base']),
  ],
} as unknown as Plan;

/** Top-level keys GitLab reads as global keywords (from GitLab's CI schema). */
const GLOBAL_KEYS = new Set(['stages', 'default', 'include', 'variables', 'workflow', 'image']);

type Job = Record<string, unknown> & { needs: string[]; stage: string; script: string[] };

describe('gitlabChildPipeline', () => {
  const text = gitlabChildPipeline(plan, {
    image: 'node:22',
    command: 'npx --yes image-builder@1',
  });
  const doc = parse(text) as Record<string, unknown>;
  const jobs = Object.entries(doc).filter(([key]) => !GLOBAL_KEYS.has(key)) as [string, Job][];
  const byImage = new Map(jobs.map(([name, job]) => [name.replace(/^build:/, ''), { name, job }]));

  test('one job per affected image, whose needs are exactly its rebuilt parents', () => {
    expect(jobs.map(([name]) => name)).toEqual([
      'build:base',
      'build:tools',
      'build:app',
      'build:api.v2',
      'build:worker',
    ]);
    for (const planned of plan.images) {
      const { job } = byImage.get(planned.name) as { job: Job };
      expect(job.needs).toEqual(planned.rebuiltParents.map((p) => byImage.get(p)?.name));
      expect(job.script).toEqual([`npx --yes image-builder@1 build --images ${planned.name}`]);
      expect(job.stage).toBe(`level-${planned.level}`);
    }
  });

  test('stages by level; only known keys; every need names a job of an earlier stage', () => {
    expect(doc.stages).toEqual(['level-0', 'level-1', 'level-2']);
    const stages = doc.stages as string[];
    for (const [name, job] of jobs) {
      expect(name.length).toBeLessThanOrEqual(255);
      expect(
        Object.keys(job).every((key) => (GITLAB_JOB_KEYS as readonly string[]).includes(key)),
      ).toBe(true);
      expect(typeof job.image).toBe('string');
      for (const need of job.needs) {
        const parent = doc[need] as Job | undefined;
        expect(parent).toBeDefined();
        expect(stages.indexOf(parent!.stage)).toBeLessThan(stages.indexOf(job.stage));
      }
    }
  });

  test('options: stage names, args, tags; an empty plan still is a valid pipeline', () => {
    const custom = parse(
      gitlabChildPipeline(plan, {
        image: 'gcr.io/kaniko-project/executor:debug',
        command: 'image-builder',
        stageName: (level) => `images-${level}`,
        args: '--registry "$CI_REGISTRY_IMAGE"',
        tags: ['docker'],
      }),
    ) as Record<string, Job>;
    expect(custom.stages).toEqual(['images-0', 'images-1', 'images-2']);
    expect(custom['build:app']?.script).toEqual([
      'image-builder build --images app --registry "$CI_REGISTRY_IMAGE"',
    ]);
    expect(custom['build:app']?.tags).toEqual(['docker']);
    const empty = parse(
      gitlabChildPipeline({ images: [] } as unknown as Plan, { image: 'node:22', command: 'x' }),
    );
    expect(Object.keys(empty)).toEqual(['stages', 'nothing-to-build']);
  });

  test('job names are safe and unique', () => {
    expect(gitlabJobName('', 'image')).toBe('job-image');
    expect(gitlabJobName('', '.hidden')).toBe('job-.hidden');
    expect(gitlabJobName('build:', 'a$b;c')).toBe('build:a-b-c');
    const clash = { images: [image('a$b', 0, []), image('a;b', 1, ['a$b'])] } as unknown as Plan;
    const doc2 = parse(gitlabChildPipeline(clash, { image: 'i', command: 'c' })) as Record<
      string,
      Job
    >;
    expect(doc2['build:a-b-2']?.needs).toEqual(['build:a-b']);
    expect(doc2['build:a-b-2']?.script).toEqual(["c build --images 'a;b'"]);
  });
});
