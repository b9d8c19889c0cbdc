import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';

const script = path.join('scripts', 'action-docs.mjs');
const action = parse(readFileSync('action.yml', 'utf8')) as {
  inputs: Record<string, unknown>;
  outputs: Record<string, unknown>;
};

const markdown = [
  '# Doc',
  '',
  '## Inputs',
  '<!-- inputs:start -->',
  'STALE-LINE',
  '<!-- inputs:end -->',
  '',
  '## Outputs',
  '<!-- outputs:start -->',
  '<!-- outputs:end -->',
  'tail',
  '',
].join('\n');

function run(args: string[]) {
  return spawnSync(process.execPath, [script, ...args], { encoding: 'utf8' });
}

describe('scripts/action-docs.mjs', () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'action-docs-'));
    file = path.join(dir, 'doc.md');
    writeFileSync(file, markdown);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('--check fails on a stale file, passes once rewritten; text outside markers is kept', () => {
    const stale = run(['--check', file]);
    expect(stale.status).toBe(1);
    expect(stale.stderr).toContain('out of date');
    expect(readFileSync(file, 'utf8')).toBe(markdown);

    expect(run([file]).status).toBe(0);
    const updated = readFileSync(file, 'utf8');
    expect(updated.startsWith('# Doc\n\n## Inputs\n<!-- inputs:start -->\n| input |')).toBe(true);
    expect(updated.endsWith('<!-- outputs:end -->\ntail\n')).toBe(true);
    expect(updated).not.toContain('STALE-LINE');

    const fresh = run(['--check', file]);
    expect(fresh.status).toBe(0);
    expect(run([file]).status).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe(updated);
  });

  test('the tables list every input and output of action.yml', () => {
    run([file]);
    const text = readFileSync(file, 'utf8');
    const inputs = text.slice(
      text.indexOf('<!-- inputs:start -->'),
      text.indexOf('<!-- inputs:end -->'),
    );
    const outputs = text.slice(
      text.indexOf('<!-- outputs:start -->'),
      text.indexOf('<!-- outputs:end -->'),
    );
    const names = (table: string) =>
      table
        .split('\n')
        .filter((line) => line.startsWith('| `'))
        .map((line) => /^\| `([^`]+)`/.exec(line)?.[1]);
    expect(names(inputs)).toEqual(Object.keys(action.inputs));
    expect(names(outputs)).toEqual(Object.keys(action.outputs));
    expect(inputs).toContain('| `command` | `build` | What to do:');
    // Every row has the table's column count (no unescaped `|` in a description).
    for (const line of inputs.split('\n').filter((l) => l.startsWith('| `')))
      expect(line.split(/(?<!\\)\|/).length).toBe(5);
  });

  test('a missing marker is an error; without a file the tables are printed', () => {
    writeFileSync(file, '# nothing\n');
    const missing = run(['--check', file]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('missing <!-- inputs:start -->');
    const printed = execFileSync(process.execPath, [script], { encoding: 'utf8' });
    expect(printed).toContain('### Inputs');
    expect(printed).toContain('| `matrix` |');
  });

  test("the README's tables are the action's inputs and outputs as they are now", () => {
    const checked = run(['--check', 'README.md']);
    expect([checked.status, checked.stderr]).toEqual([0, '']);
  });
});
