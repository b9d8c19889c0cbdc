import { findAffected } from '../../src/core/changes.js';
import { buildGraph } from '../../src/core/graph.js';
import { matrixOf, planBuilds } from '../../src/core/plan.js';
import { renderDot, renderMermaid, renderPlanText } from '../../src/core/render.js';
import type { ChangeSet, CiEvent, ImageSpec } from '../../src/core/types.js';

const SHA = '0123456789abcdef0123456789abcdef01234567';

function spec(name: string): ImageSpec {
  return {
    name,
    kind: 'dockerfile',
    source: `images/${name}/Dockerfile`,
    context: `images/${name}`,
    dockerfile: `images/${name}/Dockerfile`,
    buildArgs: {},
    platforms: [],
    dependsOn: [],
    watch: [],
    builder: 'auto',
    repository: `ghcr.io/acme/${name}`,
    tagRules: ['sha', 'ref-slug', 'latest'],
    variants: {},
  };
}

const event: CiEvent = {
  platform: 'github',
  kind: 'push',
  sourceEvent: 'push',
  refName: 'feature/Login',
  refType: 'branch',
  sha: SHA,
  before: 'f'.repeat(40),
  defaultBranch: 'main',
};
const images = ['base', 'app', 'worker', 'docs'].map(spec);
const graph = buildGraph(
  images.map((i) => i.name),
  [
    { parent: 'base', child: 'app', via: 'FROM line 1' },
    { parent: 'base', child: 'worker', via: 'FROM line 1' },
    { parent: 'app', child: 'worker', via: 'COPY --from line 4' },
  ],
);

function planFor(changes: ChangeSet) {
  const affected = findAffected({ images, graph, changes, globalWatch: [] });
  return planBuilds({
    event,
    changes,
    images,
    graph,
    affected,
    removed: [],
    warnings: [],
    shaShortLength: 7,
    now: new Date(0),
  });
}

describe('planBuilds', () => {
  const plan = planFor({
    all: false,
    paths: ['images/app/run.sh'],
    how: 'git diff ffffff..0123456 (push)',
    base: 'f'.repeat(40),
    head: SHA,
  });

  test('lists affected images in build order with parents, levels, tags and reasons', () => {
    expect(
      plan.images.map((i) => [i.name, i.level, i.parents, i.rebuiltParents, i.tags, i.reasons]),
    ).toEqual([
      ['app', 1, ['base'], [], [SHA, 'feature-login'], ['changed images/app/run.sh']],
      ['worker', 2, ['app', 'base'], ['app'], [SHA, 'feature-login'], ['parent app is rebuilt']],
    ]);
  });

  test('says why the others are not built and keeps the whole graph', () => {
    expect(plan.unaffected.map((u) => u.name)).toEqual(['base', 'docs']);
    expect(plan.graph.map((n) => n.name)).toEqual(['base', 'docs', 'app', 'worker']);
  });

  test('summarises the event', () => {
    expect(plan.event).toEqual({
      platform: 'github',
      kind: 'push',
      sourceEvent: 'push',
      ref: 'feature/Login',
      refType: 'branch',
      sha: SHA,
      defaultBranch: 'main',
      isDefaultBranch: false,
      changes: 'git diff ffffff..0123456 (push)',
      base: 'f'.repeat(40),
      changedPaths: 1,
    });
  });

  test('survives a JSON round trip unchanged', () => {
    expect(JSON.parse(JSON.stringify(plan))).toEqual(plan);
  });

  test('gives a matrix of the affected images', () => {
    expect(matrixOf(plan)).toEqual({
      include: [
        { image: 'app', level: 1 },
        { image: 'worker', level: 2 },
      ],
    });
  });
});

describe('rendering', () => {
  const plan = planFor({
    all: false,
    paths: ['images/base/Dockerfile'],
    how: 'git diff',
    head: SHA,
  });

  test('the text tree indents children under parents and says what changed', () => {
    const text = renderPlanText(plan);
    expect(text).toContain('github push on feature/Login at 0123456');
    expect(text).toContain('3 of 4 images to build, in order:');
    expect(text).toMatch(
      /\n {2}base {2}ghcr\.io\/acme\/base:\{0123456789abcdef0123456789abcdef01234567,feature-login\}\n {6}- changed images\/base\/Dockerfile/,
    );
    expect(text).toMatch(/\n {6}worker /);
    expect(text).toContain('unchanged: docs');
  });

  test('an empty plan says nothing is built', () => {
    expect(
      renderPlanText(planFor({ all: false, paths: [], how: 'git diff', head: SHA })),
    ).toContain('nothing to build (4 images, none affected)');
  });

  test('mermaid has one node per image, one arrow per edge, affected images highlighted', () => {
    const mermaid = renderMermaid(plan);
    expect(mermaid.split('\n')[0]).toBe('flowchart LR');
    expect(mermaid.match(/\["/g)).toHaveLength(4);
    expect(mermaid.match(/-->/g)).toHaveLength(3);
    expect(mermaid).toMatch(/class (i\d+,){2}i\d+ affected/);
  });

  test('dot quotes names and marks affected images', () => {
    const dot = renderDot(plan);
    expect(dot).toContain('"base" -> "app";');
    expect(dot).toContain('"app" -> "worker";');
    expect(dot).toContain('"docs";');
    expect(dot).toContain('"worker" [style=filled');
  });
});
