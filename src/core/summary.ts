// The job summary (GitHub's markdown): what the change was, one row per image of the
// repository, and the image graph as a mermaid flowchart coloured by each image's result.
import type { BuildOutcome, ImageOutcome } from '../build/run-build.js';
import type { Plan } from './plan.js';

/** What became of an image: its build status, or `planned`/`unchanged` without a build. */
export type SummaryResult = ImageOutcome['status'] | 'planned' | 'unchanged' | 'removed';

const RESULT_LABEL: Record<SummaryResult, string> = {
  built: '✅ built',
  reused: '♻️ reused',
  failed: '❌ failed',
  skipped: '⏭️ skipped',
  planned: '🔨 to build',
  unchanged: '➖ unchanged',
  removed: '🗑️ removed',
};

/** One mermaid class per result; affected images also get a thick border. */
const RESULT_STYLE: Record<SummaryResult, string> = {
  built: 'fill:#d1f7c4,stroke:#2da44e,color:#111',
  reused: 'fill:#ddf4ff,stroke:#0969da,color:#111',
  failed: 'fill:#ffd8d3,stroke:#cf222e,color:#111',
  skipped: 'fill:#fff8c5,stroke:#9a6700,color:#111',
  planned: 'fill:#fff3b0,stroke:#b08800,color:#111',
  unchanged: 'fill:#f6f8fa,stroke:#8c959f,color:#57606a',
  removed: 'fill:#f6f8fa,stroke:#8c959f,color:#57606a,stroke-dasharray:4 2',
};

/** A markdown table cell: `|` escaped, newlines turned into `<br>`. */
export function cell(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, '<br>').trim();
}

/** A mermaid node label inside `"…"`: quotes and markup characters as entity codes. */
function mermaidLabel(text: string): string {
  return text
    .replace(/#/g, '#35;')
    .replace(/"/g, '#quot;')
    .replace(/</g, '#lt;')
    .replace(/>/g, '#gt;')
    .replace(/\r?\n/g, ' ');
}

function shortDigest(digest: string | undefined): string {
  if (digest === undefined) return '';
  const [algorithm, hex = ''] = digest.split(':');
  return `\`${algorithm}:${hex.slice(0, 12)}\``;
}

function duration(seconds: number | undefined): string {
  if (seconds === undefined) return '';
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes}m ${Math.round(seconds - minutes * 60)}s`;
}

interface Row {
  name: string;
  result: SummaryResult;
  affected: boolean;
  tags: string[];
  digest?: string;
  seconds?: number;
  why: string;
}

/** Every image of the graph (and removed ones) with its result, in build order. */
export function summaryRows(plan: Plan, outcome?: BuildOutcome): Row[] {
  const planned = new Map(plan.images.map((image) => [image.name, image]));
  const unaffected = new Map(plan.unaffected.map((u) => [u.name, u.why]));
  const results = new Map((outcome?.images ?? []).map((image) => [image.name, image]));
  const rows: Row[] = [];
  for (const node of plan.graph) {
    const image = planned.get(node.name);
    const result = results.get(node.name);
    if (image === undefined) {
      rows.push({
        name: node.name,
        result: 'unchanged',
        affected: false,
        tags: [],
        why: unaffected.get(node.name) ?? 'not affected by this change',
      });
      continue;
    }
    const why = [...image.reasons];
    if (result?.detail !== undefined) why.unshift(result.detail);
    rows.push({
      name: node.name,
      result: result?.status ?? (outcome === undefined ? 'planned' : 'skipped'),
      affected: true,
      tags: result ? result.tags : image.tags,
      ...(result?.digest !== undefined ? { digest: result.digest } : {}),
      ...(result?.seconds !== undefined ? { seconds: result.seconds } : {}),
      why: why.join('\n'),
    });
  }
  for (const removed of plan.removed) {
    if (rows.some((row) => row.name === removed.name)) continue;
    rows.push({
      name: removed.name,
      result: 'removed',
      affected: false,
      tags: [],
      why: `${removed.source} was deleted`,
    });
  }
  return rows;
}

/** The image graph as a mermaid flowchart: one class per result, affected images outlined. */
export function renderResultMermaid(plan: Plan, outcome?: BuildOutcome): string {
  const rows = summaryRows(plan, outcome).filter((row) => row.result !== 'removed');
  const ids = new Map(rows.map((row, index) => [row.name, `i${index}`]));
  const lines = ['flowchart LR'];
  for (const row of rows) {
    const label = `${mermaidLabel(row.name)}<br/><small>${RESULT_LABEL[row.result].split(' ').pop()}</small>`;
    lines.push(`  ${ids.get(row.name)}["${label}"]`);
  }
  for (const node of plan.graph) {
    for (const parent of node.parents) {
      const from = ids.get(parent);
      const to = ids.get(node.name);
      if (from !== undefined && to !== undefined) lines.push(`  ${from} --> ${to}`);
    }
  }
  const used = new Set(rows.map((row) => row.result));
  for (const result of Object.keys(RESULT_STYLE) as SummaryResult[]) {
    if (!used.has(result)) continue;
    lines.push(`  classDef ${result} ${RESULT_STYLE[result]}`);
    const members = rows.filter((row) => row.result === result).map((row) => ids.get(row.name));
    lines.push(`  class ${members.join(',')} ${result}`);
  }
  const affected = rows.filter((row) => row.affected).map((row) => ids.get(row.name));
  if (affected.length > 0) {
    lines.push('  classDef affected stroke-width:3px');
    lines.push(`  class ${affected.join(',')} affected`);
  }
  return lines.join('\n');
}

function counts(rows: Row[]): string {
  const order: SummaryResult[] = [
    'built',
    'reused',
    'failed',
    'skipped',
    'planned',
    'unchanged',
    'removed',
  ];
  return order
    .map((result) => [result, rows.filter((row) => row.result === result).length] as const)
    .filter(([, n]) => n > 0)
    .map(([result, n]) => `${n} ${RESULT_LABEL[result].split(' ').pop()}`)
    .join(', ');
}

/** Markdown for the job summary: heading, table of every image, mermaid graph. */
export function renderSummary(plan: Plan, outcome?: BuildOutcome): string {
  const { event } = plan;
  const rows = summaryRows(plan, outcome);
  const ref = event.refType === 'tag' ? `tag ${event.ref}` : event.ref || '(detached)';
  const lines: string[] = [];
  const verdict = outcome === undefined ? 'plan' : outcome.ok ? 'build succeeded' : 'build failed';
  lines.push(`## image-builder: ${verdict}`);
  lines.push('');
  const source =
    event.platform === 'local' ? 'local run' : `${event.platform} \`${event.sourceEvent}\``;
  lines.push(
    `${source} on \`${cell(ref)}\` at \`${event.sha.slice(0, 7)}\` · changes: ${cell(event.changes)}` +
      (event.base !== undefined ? ` (base \`${event.base.slice(0, 7)}\`)` : '') +
      (event.changedPaths !== undefined ? ` · ${event.changedPaths} changed paths` : ''),
  );
  lines.push('');
  lines.push(
    `**${plan.images.length} of ${plan.graph.length} image${plan.graph.length === 1 ? '' : 's'} affected** · ${counts(rows)}`,
  );
  lines.push('');
  lines.push('| image | result | tags | digest | duration | why |');
  lines.push('| --- | --- | --- | --- | --- | --- |');
  for (const row of rows) {
    const tags = row.tags.map((tag) => `\`${cell(tag)}\``).join(' ');
    lines.push(
      `| ${[
        `\`${cell(row.name)}\``,
        RESULT_LABEL[row.result],
        tags,
        shortDigest(row.digest),
        duration(row.seconds),
        cell(row.why),
      ].join(' | ')} |`,
    );
  }
  if (outcome !== undefined && outcome.heldBack.length > 0) {
    lines.push('');
    lines.push(
      `Not moved, because not every image succeeded: ${outcome.heldBack.map((tag) => `\`${cell(tag)}\``).join(', ')}`,
    );
  }
  if (plan.warnings.length > 0) {
    lines.push('');
    lines.push('<details><summary>Warnings</summary>');
    lines.push('');
    for (const warning of plan.warnings) {
      const where = warning.line !== undefined ? `${warning.file}:${warning.line}` : warning.file;
      lines.push(`- \`${where}\`: ${warning.message.replace(/\r?\n/g, ' ')}`);
    }
    lines.push('');
    lines.push('</details>');
  }
  lines.push('');
  lines.push('```mermaid');
  lines.push(renderResultMermaid(plan, outcome));
  lines.push('```');
  return `${lines.join('\n')}\n`;
}
