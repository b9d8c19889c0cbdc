#!/usr/bin/env node
// Writes the tables of the action's inputs and outputs, read from action.yml, between the
// markers <!-- inputs:start -->/<!-- inputs:end --> and <!-- outputs:start -->/<!-- outputs:end -->
// of a markdown file.
//   node scripts/action-docs.mjs README.md            rewrite README.md
//   node scripts/action-docs.mjs --check README.md    exit 1 when README.md is out of date
//   node scripts/action-docs.mjs                      print the tables
// --action <file> reads another action.yml (default: the one at the repository root).
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** A markdown table cell: `|` escaped, line breaks as `<br>`. */
export function cell(value) {
  return String(value ?? '')
    .trim()
    .replace(/\|/g, '\\|')
    .replace(/\r?\n/g, '<br>');
}

export function inputsTable(action) {
  const rows = ['| input | default | description |', '| --- | --- | --- |'];
  for (const [name, input] of Object.entries(action.inputs ?? {})) {
    const fallback = input?.default;
    const shown = fallback === undefined || fallback === '' ? '' : `\`${cell(fallback)}\``;
    const required = input?.required === true ? ' **(required)**' : '';
    rows.push(`| \`${name}\`${required} | ${shown} | ${cell(input?.description)} |`);
  }
  return rows.join('\n');
}

export function outputsTable(action) {
  const rows = ['| output | description |', '| --- | --- |'];
  for (const [name, output] of Object.entries(action.outputs ?? {})) {
    rows.push(`| \`${name}\` | ${cell(output?.description)} |`);
  }
  return rows.join('\n');
}

/** The markdown with each marked block replaced; throws when a marker is missing. */
export function updateMarkdown(markdown, action) {
  let text = markdown;
  for (const [section, table] of [
    ['inputs', inputsTable(action)],
    ['outputs', outputsTable(action)],
  ]) {
    const start = `<!-- ${section}:start -->`;
    const end = `<!-- ${section}:end -->`;
    const from = text.indexOf(start);
    const to = text.indexOf(end, from);
    if (from < 0 || to < 0) throw new Error(`missing ${start} … ${end}`);
    text = `${text.slice(0, from + start.length)}\n${table}\n${text.slice(to)}`;
  }
  return text;
}

function main(argv) {
  const args = [...argv];
  const check = args.includes('--check');
  const actionAt = args.indexOf('--action');
  const actionFile =
    actionAt >= 0 ? path.resolve(args.splice(actionAt, 2)[1]) : path.join(root, 'action.yml');
  const files = args.filter((arg) => arg !== '--check');
  const action = parse(readFileSync(actionFile, 'utf8'));
  if (files.length === 0) {
    process.stdout.write(
      `### Inputs\n\n${inputsTable(action)}\n\n### Outputs\n\n${outputsTable(action)}\n`,
    );
    return 0;
  }
  let stale = 0;
  for (const file of files) {
    const before = readFileSync(file, 'utf8');
    const after = updateMarkdown(before, action);
    if (before === after) continue;
    if (check) {
      process.stderr.write(
        `${file}: the inputs/outputs tables are out of date; run node scripts/action-docs.mjs ${file}\n`,
      );
      stale++;
    } else {
      writeFileSync(file, after);
      process.stdout.write(`${file}: tables updated\n`);
    }
  }
  return stale > 0 ? 1 : 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`action-docs: ${error instanceof Error ? error.message : error}\n`);
    process.exitCode = 2;
  }
}
