import type { Plan } from './plan.js';

function shortSha(sha: string): string {
  return sha.slice(0, 7);
}

/** The plan as people read it in a log: header, affected images as a tree, then the rest. */
export function renderPlanText(plan: Plan): string {
  const { event } = plan;
  const lines: string[] = [];
  const ref = event.refType === 'tag' ? `tag ${event.ref}` : event.ref || '(detached)';
  const source =
    event.platform === 'local' ? 'local run' : `${event.platform} ${event.sourceEvent}`;
  lines.push(`${source} on ${ref} at ${shortSha(event.sha)}`);
  lines.push(`changes: ${event.changes}`);
  const total = plan.graph.length;
  if (plan.images.length === 0) {
    lines.push(`nothing to build (${total} image${total === 1 ? '' : 's'}, none affected)`);
  } else {
    lines.push(
      `${plan.images.length} of ${total} image${total === 1 ? '' : 's'} to build, in order:`,
    );
    for (const image of plan.images) {
      const indent = '  '.repeat(image.level + 1);
      lines.push(`${indent}${image.name}  ${image.repository}:{${image.tags.join(',')}}`);
      for (const reason of image.reasons) lines.push(`${indent}    - ${reason}`);
    }
  }
  for (const removed of plan.removed)
    lines.push(`removed: ${removed.name} (${removed.source} was deleted)`);
  if (plan.unaffected.length > 0) {
    const shown = plan.unaffected.slice(0, 20).map((u) => u.name);
    const more = plan.unaffected.length - shown.length;
    lines.push(`unchanged: ${shown.join(', ')}${more > 0 ? ` and ${more} more` : ''}`);
  }
  return lines.join('\n');
}

/** Mermaid node ids must be plain words; image names may hold `.` and `-`. */
function nodeId(name: string, ids: Map<string, string>): string {
  let id = ids.get(name);
  if (id === undefined) {
    id = `i${ids.size}`;
    ids.set(name, id);
  }
  return id;
}

/** The image graph as a mermaid flowchart, affected images highlighted. */
export function renderMermaid(plan: Plan): string {
  const ids = new Map<string, string>();
  const affected = new Set(plan.images.map((image) => image.name));
  const lines = ['flowchart LR'];
  for (const node of plan.graph) lines.push(`  ${nodeId(node.name, ids)}["${node.name}"]`);
  for (const node of plan.graph) {
    for (const parent of node.parents)
      lines.push(`  ${nodeId(parent, ids)} --> ${nodeId(node.name, ids)}`);
  }
  if (affected.size > 0) {
    lines.push('  classDef affected fill:#fff3b0,stroke:#b08800,stroke-width:2px');
    lines.push(`  class ${[...affected].map((name) => nodeId(name, ids)).join(',')} affected`);
  }
  return lines.join('\n');
}

function dotQuote(text: string): string {
  return `"${text.replace(/["\\]/g, '\\$&')}"`;
}

/** The image graph in Graphviz dot. */
export function renderDot(plan: Plan): string {
  const affected = new Set(plan.images.map((image) => image.name));
  const lines = ['digraph images {', '  rankdir=LR;'];
  for (const node of plan.graph) {
    const style = affected.has(node.name) ? ' [style=filled, fillcolor="#fff3b0"]' : '';
    lines.push(`  ${dotQuote(node.name)}${style};`);
  }
  for (const node of plan.graph) {
    for (const parent of node.parents)
      lines.push(`  ${dotQuote(parent)} -> ${dotQuote(node.name)};`);
  }
  lines.push('}');
  return lines.join('\n');
}
