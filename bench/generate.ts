// A generated monorepo for benchmarks: images in a dependency forest (depth up to 6),
// many files per context, a shared source tree that images watch, and a change set.
import { seededRandom } from '../__tests__/support/seeded-random.js';

export interface GeneratedRepo {
  files: string[];
  dockerfiles: Map<string, string>;
  changed: string[];
  watch: Map<string, string[]>;
}

/** Seeded, so every run plans the same repository. */
export const random = seededRandom;

export function generateRepo(
  images: number,
  totalFiles: number,
  changedPaths: number,
  seed = 42,
): GeneratedRepo {
  const rand = random(seed);
  const name = (i: number) => `img-${String(i).padStart(5, '0')}`;
  const depth = new Array<number>(images).fill(0);
  const files: string[] = [];
  const dockerfiles = new Map<string, string>();
  const watch = new Map<string, string[]>();

  for (let i = 0; i < images; i++) {
    let from = 'debian:bookworm-slim';
    // About two thirds of the images have a parent among the earlier ones, keeping depth <= 6.
    if (i > 0 && rand() < 0.67) {
      const parent = Math.floor(rand() * i);
      if ((depth[parent] ?? 0) < 6) {
        depth[i] = (depth[parent] ?? 0) + 1;
        from = `registry.example.com/acme/${name(parent)}:latest`;
      }
    }
    const path = `images/${name(i)}/Dockerfile`;
    files.push(path);
    dockerfiles.set(
      path,
      [
        '# syntax=docker/dockerfile:1',
        'ARG VERSION=1.0',
        `FROM ${from} AS base`,
        'RUN --mount=type=cache,target=/var/cache/apt apt-get update \\',
        '    && apt-get install -y curl',
        'FROM base AS final',
        'COPY container-assets/ /etc/app/',
        `COPY --from=base /usr/bin/curl /usr/bin/curl`,
        'ENTRYPOINT ["/etc/app/entrypoint.sh"]',
        '',
      ].join('\n'),
    );
    if (rand() < 0.2) watch.set(name(i), [`src/component-${i % 200}/**`]);
  }

  const perContext = Math.floor((totalFiles * 0.8) / images);
  for (let i = 0; i < images; i++) {
    for (let f = 0; f < perContext - 1; f++) {
      files.push(`images/${name(i)}/container-assets/dir-${f % 10}/file-${f}.conf`);
    }
  }
  let s = 0;
  while (files.length < totalFiles) {
    files.push(`src/component-${s % 200}/pkg-${s % 37}/source-${s}.go`);
    s++;
  }

  const changed = new Set<string>();
  while (changed.size < changedPaths)
    changed.add(files[Math.floor(rand() * files.length)] as string);
  return { files, dockerfiles, changed: [...changed], watch };
}
