// Bundles the action (dist/index.js) and the CLI (dist/cli/index.js) with ncc.
import { execFileSync } from 'node:child_process';
import { chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';

const ncc = (entry, out) =>
  execFileSync(
    'npx',
    [
      'ncc',
      'build',
      entry,
      '-o',
      out,
      '--target',
      'es2022',
      '--no-source-map-register',
      '--license',
      'licenses.txt',
      '--quiet',
    ],
    {
      stdio: 'inherit',
    },
  );

rmSync('dist', { recursive: true, force: true });
ncc('src/action.ts', 'dist');
ncc('src/cli-entry.ts', 'dist/cli');

const cli = 'dist/cli/index.js';
const text = readFileSync(cli, 'utf8');
if (!text.startsWith('#!')) writeFileSync(cli, `#!/usr/bin/env node\n${text}`);
chmodSync(cli, 0o755);
