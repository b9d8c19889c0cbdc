import { execFileSync } from 'node:child_process';
import type { BuildOutcome } from '../../src/build/run-build.js';
import type { Plan, PlannedImage } from '../../src/core/plan.js';
import { cell, renderResultMermaid, renderSummary } from '../../src/core/summary.js';

const SHA = '0123456789abcdef0123456789abcdef01234567';

function planned(name: string, level: number, parents: string[], rebuilt = parents): PlannedImage {
  return {
    name,
    kind: 'dockerfile',
    repository: `ghcr.io/acme/${name}`,
    context: `images/${name}`,
    dockerfile: `images/${name}/Dockerfile`,
    buildArgs: {},
    platforms: [],
    builder: 'auto',
    parents,
    rebuiltParents: rebuilt,
    level,
    tags: [SHA, 'feature-login'],
    reasons: [`images/${name}/Dockerfile changed`],
    reasonDetails: [],
  };
}

/** base → app → worker, base → api, docs and tools alone; tools unaffected. */
function fixturePlan(): Plan {
  const images = [
    planned('base', 0, []),
    planned('docs.site', 0, []),
    planned('app', 1, ['base']),
    planned('api-v2', 1, ['base']),
    planned('worker', 2, ['app', 'base']),
  ];
  (images[1] as PlannedImage).reasons = ['a | pipe\nand a newline'];
  return {
    version: 1,
    event: {
      platform: 'github',
      kind: 'push',
      sourceEvent: 'push',
      ref: 'feature/Login',
      refType: 'branch',
      sha: SHA,
      defaultBranch: 'main',
      isDefaultBranch: false,
      changes: 'git diff 1234567..0123456',
      base: 'f'.repeat(40),
      changedPaths: 3,
    },
    images,
    unaffected: [{ name: 'tools', why: 'nothing under images/tools changed' }],
    removed: [{ name: 'old', source: 'images/old/Dockerfile' }],
    graph: [
      { name: 'base', repository: 'ghcr.io/acme/base', parents: [], level: 0 },
      { name: 'docs.site', repository: 'ghcr.io/acme/docs.site', parents: [], level: 0 },
      { name: 'tools', repository: 'ghcr.io/acme/tools', parents: ['base'], level: 1 },
      { name: 'app', repository: 'ghcr.io/acme/app', parents: ['base'], level: 1 },
      { name: 'api-v2', repository: 'ghcr.io/acme/api-v2', parents: ['base'], level: 1 },
      { name: 'worker', repository: 'ghcr.io/acme/worker', parents: ['app', 'base'], level: 2 },
    ],
    warnings: [{ file: 'image-builder.yml', line: 3, message: 'unknown key' }],
  };
}

const outcome: BuildOutcome = {
  ok: false,
  heldBack: ['latest'],
  images: [
    {
      name: 'base',
      status: 'built',
      repository: 'ghcr.io/acme/base',
      digest: `sha256:${'a'.repeat(64)}`,
      tags: [SHA, 'feature-login'],
      seconds: 12.34,
    },
    {
      name: 'docs.site',
      status: 'reused',
      repository: 'ghcr.io/acme/docs.site',
      digest: `sha256:${'b'.repeat(64)}`,
      tags: [SHA],
      detail: 'src-abc already had it',
      seconds: 0.5,
    },
    {
      name: 'app',
      status: 'failed',
      repository: 'ghcr.io/acme/app',
      tags: [],
      detail: 'RUN make exited 2',
      seconds: 75,
    },
    {
      name: 'worker',
      status: 'skipped',
      repository: 'ghcr.io/acme/worker',
      tags: [],
      detail: 'parent app failed',
    },
    {
      name: 'api-v2',
      status: 'built',
      repository: 'ghcr.io/acme/api-v2',
      digest: `sha256:${'c'.repeat(64)}`,
      tags: [SHA],
      seconds: 3,
    },
  ],
};

/** Parses each text with mermaid's own parser (in a child node, as mermaid is ESM-only). */
function mermaidErrors(texts: string[]): (string | null)[] {
  const script = `
    import DOMPurify from 'dompurify';
    // mermaid sanitizes labels with DOMPurify, which needs a DOM; parsing does not.
    DOMPurify.addHook ??= () => {};
    DOMPurify.removeHook ??= () => {};
    DOMPurify.removeHooks ??= () => {};
    DOMPurify.sanitize ??= (text) => text;
    const { default: mermaid } = await import('mermaid');
    const texts = JSON.parse(process.argv[1]);
    const errors = [];
    for (const text of texts) {
      try {
        const result = await mermaid.parse(text);
        errors.push(result && result.diagramType === 'flowchart-v2' ? null : 'not a flowchart');
      } catch (error) {
        errors.push(String(error.message ?? error));
      }
    }
    process.stdout.write(JSON.stringify(errors));
  `;
  const out = execFileSync(
    process.execPath,
    ['--input-type=module', '-e', script, JSON.stringify(texts)],
    { cwd: process.cwd(), encoding: 'utf8' },
  );
  return JSON.parse(out) as (string | null)[];
}

function mermaidBlock(markdown: string): string {
  const match = /```mermaid\n([\s\S]*?)\n```/.exec(markdown);
  if (!match) throw new Error('no mermaid block');
  return match[1] ?? '';
}

function tableRows(markdown: string): string[][] {
  return markdown
    .split('\n')
    .filter(
      (line) => line.startsWith('| ') && !line.startsWith('| image') && !line.startsWith('| ---'),
    )
    .map((line) =>
      line
        .slice(2, -2)
        .split(/(?<!\\) \| /)
        .map((c) => c.trim()),
    );
}

describe('renderSummary', () => {
  const plan = fixturePlan();

  test('heading tells the event, ref, sha and how changes were found', () => {
    const md = renderSummary(plan, outcome);
    expect(md).toMatch(/^## image-builder: build failed\n/);
    expect(md).toContain('github `push` on `feature/Login` at `0123456`');
    expect(md).toContain('changes: git diff 1234567..0123456 (base `fffffff`) · 3 changed paths');
    expect(md).toContain('**5 of 6 images affected**');
  });

  test('every image of the graph is a row, with its result, tags, digest, duration and why', () => {
    const rows = tableRows(renderSummary(plan, outcome));
    const byName = new Map(rows.map((row) => [(row[0] ?? '').replace(/`/g, ''), row]));
    for (const node of plan.graph) expect(byName.has(node.name)).toBe(true);
    expect(byName.has('old')).toBe(true);
    for (const row of rows) expect(row).toHaveLength(6);
    expect(byName.get('base')?.slice(1, 5)).toEqual([
      '✅ built',
      `\`${SHA}\` \`feature-login\``,
      '`sha256:aaaaaaaaaaaa`',
      '12.3s',
    ]);
    expect(byName.get('docs.site')?.[1]).toBe('♻️ reused');
    expect(byName.get('docs.site')?.[5]).toBe(
      'src-abc already had it<br>a \\| pipe<br>and a newline',
    );
    expect(byName.get('app')?.[1]).toBe('❌ failed');
    expect(byName.get('app')?.[4]).toBe('1m 15s');
    expect(byName.get('app')?.[5]).toContain('RUN make exited 2');
    expect(byName.get('worker')?.[1]).toBe('⏭️ skipped');
    expect(byName.get('worker')?.[5]).toContain('parent app failed');
    expect(byName.get('tools')?.[1]).toBe('➖ unchanged');
    expect(byName.get('tools')?.[5]).toBe('nothing under images/tools changed');
    expect(byName.get('old')?.[5]).toBe('images/old/Dockerfile was deleted');
  });

  test('held-back tags and warnings are listed', () => {
    const md = renderSummary(plan, outcome);
    expect(md).toContain('Not moved, because not every image succeeded: `latest`');
    expect(md).toContain('- `image-builder.yml:3`: unknown key');
  });

  test('the mermaid graph has every image, every edge and a class per result', () => {
    const text = mermaidBlock(renderSummary(plan, outcome));
    expect(text.startsWith('flowchart LR\n')).toBe(true);
    for (const node of plan.graph) expect(text).toContain(`["${node.name}<br/>`);
    const edges = text.split('\n').filter((line) => line.includes('-->'));
    expect(edges).toHaveLength(plan.graph.reduce((n, node) => n + node.parents.length, 0));
    for (const result of ['built', 'reused', 'failed', 'skipped', 'unchanged', 'affected']) {
      expect(text).toContain(`classDef ${result} `);
      expect(text).toMatch(new RegExp(`\\n  class [i0-9,]+ ${result}(\\n|$)`));
    }
  });

  test('a plan without a build shows images to build; cells escape pipes and newlines', () => {
    const md = renderSummary(plan);
    expect(md).toMatch(/^## image-builder: plan\n/);
    const rows = tableRows(md);
    expect(rows.filter((row) => row[1] === '🔨 to build')).toHaveLength(5);
    expect(cell('a|b\nc\r\nd')).toBe('a\\|b<br>c<br>d');
    expect(mermaidBlock(md)).toContain('classDef planned ');
  });

  test("the mermaid text parses with mermaid's parser (and a broken one does not)", () => {
    const weird = fixturePlan();
    weird.graph.push({
      name: 'we"ird#<name>',
      repository: 'ghcr.io/acme/we"ird#<name>',
      parents: ['tools'],
      level: 2,
    });
    weird.unaffected.push({ name: 'we"ird#<name>', why: 'x' });
    const empty: Plan = { ...fixturePlan(), images: [], unaffected: [], removed: [] };
    const texts = [
      renderResultMermaid(plan, outcome),
      renderResultMermaid(plan),
      renderResultMermaid(weird, outcome),
      renderResultMermaid(empty),
      mermaidBlock(renderSummary(plan, outcome)),
    ];
    const errors = mermaidErrors([...texts, 'flowchart LR\n  i0["unclosed --> i1']);
    expect(errors.slice(0, texts.length)).toEqual(texts.map(() => null));
    expect(errors[texts.length]).toMatch(/Parse error/);
  });
});
