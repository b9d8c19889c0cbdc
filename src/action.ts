import * as core from '@actions/core';
import { rm } from 'node:fs/promises';
import { settingsFromInputs } from './config/inputs.js';
import { UserError } from './core/errors.js';
import { GithubHost } from './host/github.js';
import { STATE } from './names.js';
import { run } from './run.js';

async function main(): Promise<void> {
  const host = new GithubHost();
  try {
    core.saveState(STATE.isPost, 'true');
    const settings = settingsFromInputs((name) => core.getInput(name));
    if (settings.githubToken) core.setSecret(settings.githubToken);
    if (settings.registryPassword) core.setSecret(settings.registryPassword);
    await run(settings, host);
  } catch (error) {
    if (error instanceof UserError) {
      // One annotation, at the file and line when there is one; setFailed would add a second.
      host.error(error.message, error.position);
      process.exitCode = core.ExitCode.Failure;
    } else {
      core.setFailed(error instanceof Error ? error.message : String(error));
      if (error instanceof Error && error.stack) core.debug(error.stack);
    }
  }
}

/** The post step: cleanup only, and it only ever warns. */
async function post(): Promise<void> {
  let folders: string[] = [];
  try {
    folders = JSON.parse(core.getState(STATE.cleanup) || '[]') as string[];
  } catch {
    core.warning('post step: the list of private folders to remove was unreadable');
  }
  for (const folder of folders) {
    try {
      await rm(folder, { recursive: true, force: true });
    } catch (error) {
      core.warning(`post step: could not remove ${folder}: ${(error as Error).message}`);
    }
  }
}

if (core.getState(STATE.isPost) === 'true') await post();
else await main();
