// A GitLab child pipeline for the affected images: one job per image whose `needs:` are
// exactly the image's parents rebuilt in this run, for `trigger: include: artifact:`.
import { stringify } from 'yaml';
import type { Plan } from './plan.js';

export interface GitlabPipelineOptions {
  /** The container image the jobs run in. */
  image: string;
  /** How a job runs the CLI, e.g. `npx --yes image-builder@1`; `build --images <name>` is appended. */
  command: string;
  /** Stage name of a level; default `level-<n>`. */
  stageName?: (level: number) => string;
  /** Prefix of the job names; default `build:`. */
  jobPrefix?: string;
  /** Extra arguments after `--images <name>` (e.g. `--registry …`). */
  args?: string;
  /** Runner tags for every job. */
  tags?: string[];
}

/** Keys the child pipeline may use (checked by the tests against GitLab's CI schema keys). */
export const GITLAB_JOB_KEYS = ['stage', 'image', 'script', 'needs', 'variables', 'tags'] as const;

/** Words GitLab reads as global keywords, never as job names. */
const RESERVED = new Set([
  'image',
  'services',
  'stages',
  'types',
  'before_script',
  'after_script',
  'variables',
  'cache',
  'include',
  'default',
  'workflow',
  'spec',
  'true',
  'false',
  'nil',
]);

/** A job name GitLab accepts and shows as is: at most 255 characters of a plain alphabet. */
export function gitlabJobName(prefix: string, image: string): string {
  const name = `${prefix}${image}`.replace(/[^A-Za-z0-9_.:/@+ -]/g, '-').slice(0, 255);
  return name.startsWith('.') || RESERVED.has(name) ? `job-${name}`.slice(0, 255) : name;
}

/** A POSIX shell word. */
function shellWord(word: string): string {
  return /^[A-Za-z0-9_.:/@+=,-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The child pipeline as YAML (one job per affected image, `stages` by level). */
export function gitlabChildPipeline(plan: Plan, options: GitlabPipelineOptions): string {
  const stageName = options.stageName ?? ((level: number) => `level-${level}`);
  const prefix = options.jobPrefix ?? 'build:';
  const jobNames = new Map<string, string>();
  const taken = new Set<string>();
  for (const image of plan.images) {
    const base = gitlabJobName(prefix, image.name);
    let name = base;
    for (let n = 2; taken.has(name); n++) name = `${base.slice(0, 250)}-${n}`;
    taken.add(name);
    jobNames.set(image.name, name);
  }

  const levels = [...new Set(plan.images.map((image) => image.level))].sort((a, b) => a - b);
  const document: Record<string, unknown> = {};
  if (plan.images.length === 0) {
    // GitLab refuses a pipeline without jobs: one that says so keeps the trigger green.
    document.stages = [stageName(0)];
    document['nothing-to-build'] = {
      stage: stageName(0),
      image: options.image,
      script: ['echo "no image is affected by this change"'],
    };
    return stringify(document, { lineWidth: 0 });
  }
  document.stages = levels.map(stageName);
  for (const image of plan.images) {
    const parts = [options.command, 'build', '--images', shellWord(image.name)];
    if (options.args) parts.push(options.args);
    document[jobNames.get(image.name) as string] = {
      stage: stageName(image.level),
      image: options.image,
      ...(options.tags && options.tags.length > 0 ? { tags: options.tags } : {}),
      variables: { IMAGE_BUILDER_IMAGE: image.name },
      script: [parts.join(' ')],
      needs: image.rebuiltParents.map((parent) => {
        const job = jobNames.get(parent);
        if (job === undefined) throw new Error(`${image.name}: parent ${parent} is not planned`);
        return job;
      }),
    };
  }
  return stringify(document, { lineWidth: 0 });
}
