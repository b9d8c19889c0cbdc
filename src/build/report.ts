import type { BuildOutcome } from './run-build.js';

/** The end of a build log: one line per image, then what was held back. */
export function renderBuildText(outcome: BuildOutcome): string {
  const lines = ['results:'];
  const width = Math.max(0, ...outcome.images.map((image) => image.name.length));
  for (const image of outcome.images) {
    const seconds = image.seconds !== undefined ? ` ${image.seconds.toFixed(1)}s` : '';
    const where = image.digest !== undefined ? `  ${image.repository}@${image.digest}` : '';
    lines.push(`  ${image.name.padEnd(width)}  ${image.status}${seconds}${where}`);
    if (image.tags.length > 0) lines.push(`  ${' '.repeat(width)}  tags: ${image.tags.join(', ')}`);
    if (image.status === 'failed' || image.status === 'skipped') {
      lines.push(`  ${' '.repeat(width)}  ${image.detail ?? ''}`);
    }
  }
  if (outcome.heldBack.length > 0) {
    lines.push(`not moved, because not every image succeeded: ${outcome.heldBack.join(', ')}`);
  }
  const count = (status: string) =>
    outcome.images.filter((image) => image.status === status).length;
  lines.push(
    `${count('built')} built, ${count('reused')} already built, ${count('failed')} failed, ${count('skipped')} skipped`,
  );
  return lines.join('\n');
}

/** JSON outputs for later steps. */
export function buildOutputs(
  outcome: BuildOutcome,
): Record<'images' | 'built' | 'skipped' | 'failed', string> {
  const names = (statuses: string[]) =>
    JSON.stringify(
      outcome.images.filter((image) => statuses.includes(image.status)).map((image) => image.name),
    );
  return {
    images: JSON.stringify(
      Object.fromEntries(
        outcome.images.map((image) => [
          image.name,
          {
            status: image.status,
            repository: image.repository,
            digest: image.digest ?? null,
            tags: image.tags,
          },
        ]),
      ),
    ),
    built: names(['built', 'reused']),
    skipped: names(['skipped']),
    failed: names(['failed']),
  };
}
