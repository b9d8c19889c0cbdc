// One planning scenario in its own process, so its peak memory is its own.
// Prints one JSON line: timings of the planner and of the per-image glob baseline.
import picomatch from 'picomatch';
import { defaultConfig } from '../src/config/defaults.js';
import { findAffected } from '../src/core/changes.js';
import { FileIndex, findImages, resolveImages } from '../src/core/discovery.js';
import { analyseDockerfile } from '../src/core/dockerfile.js';
import { buildGraph, findEdges } from '../src/core/graph.js';
import { planBuilds } from '../src/core/plan.js';
import type { Config, ImageUse } from '../src/core/types.js';
import { generateRepo } from './generate.js';

const [imagesArg, filesArg, changedArg, mode] = process.argv.slice(2);
const repo = generateRepo(Number(imagesArg), Number(filesArg), Number(changedArg));
const event = {
  platform: 'local' as const,
  kind: 'push' as const,
  sourceEvent: 'push',
  refName: 'main',
  refType: 'branch' as const,
  sha: 'a'.repeat(40),
  defaultBranch: 'main',
};

function plan() {
  const images: Config['images'] = {};
  for (const [name, watch] of repo.watch) images[name] = { watch };
  const config: Config = { ...defaultConfig(), registry: 'registry.example.com/acme', images };
  const found = findImages(repo.files, config);
  const specs = resolveImages(found, config, {
    registry: config.registry,
    prefix: '',
    files: new FileIndex(repo.files),
  });
  const uses = new Map<string, ImageUse[]>();
  for (const spec of specs) {
    const file = spec.dockerfile as string;
    uses.set(
      spec.name,
      analyseDockerfile(repo.dockerfiles.get(file) as string, file, spec.buildArgs).uses,
    );
  }
  const graph = buildGraph(
    specs.map((s) => s.name),
    findEdges(specs, uses),
  );
  const changes = { all: false as const, paths: repo.changed, how: 'bench', head: event.sha };
  const affected = findAffected({ images: specs, graph, changes, globalWatch: [] });
  return planBuilds({
    event,
    changes,
    images: specs,
    graph,
    affected,
    removed: [],
    warnings: [],
    shaShortLength: 7,
    now: new Date(),
  });
}

/** What popular path-filter actions do: one glob filter per image, tested on every path. */
function perImageGlobs(): number {
  let hits = 0;
  for (const path of repo.files) {
    if (!path.endsWith('/Dockerfile')) continue;
    const dir = path.slice(0, -'/Dockerfile'.length);
    const name = dir.slice(dir.lastIndexOf('/') + 1);
    const isMatch = picomatch([`${dir}/**`, ...(repo.watch.get(name) ?? [])], { dot: true });
    for (const changed of repo.changed) if (isMatch(changed)) hits++;
  }
  return hits;
}

// The generator's garbage is not the planner's: collect it before the clock starts.
(globalThis as { gc?: () => void }).gc?.();
const gcBefore = process.memoryUsage().heapUsed;
const started = process.hrtime.bigint();
const result = mode === 'baseline' ? perImageGlobs() : plan();
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
const affected = typeof result === 'number' ? result : result.images.length;
console.log(
  JSON.stringify({
    seconds,
    affected,
    heapDeltaMB: (process.memoryUsage().heapUsed - gcBefore) / 2 ** 20,
    maxRssMB: process.resourceUsage().maxRSS / 1024,
  }),
);
