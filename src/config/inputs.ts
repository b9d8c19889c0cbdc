import path from 'node:path';
import { UserError } from '../core/errors.js';
import { INPUTS } from '../names.js';
import type { Settings } from './settings.js';
import { COMMANDS, parseList, parseMaxParallel, promoteSettings } from './settings.js';

/** Turns the action's raw inputs into settings; messages say what was expected. */
export function settingsFromInputs(getInput: (name: string) => string): Settings {
  const command = getInput(INPUTS.command) || 'build';
  if (!(COMMANDS as readonly string[]).includes(command)) {
    throw new UserError(`input command: expected one of ${COMMANDS.join(', ')}, got "${command}"`);
  }
  const bool = (name: string): boolean => {
    const value = getInput(name).toLowerCase();
    if (value === '' || value === 'false') return false;
    if (value === 'true') return true;
    throw new UserError(`input ${name}: expected true or false, got "${value}"`);
  };
  const format = getInput(INPUTS.graphFormat) || 'mermaid';
  if (format !== 'mermaid' && format !== 'dot') {
    throw new UserError(`input ${INPUTS.graphFormat}: expected mermaid or dot, got "${format}"`);
  }
  const images = parseList(getInput(INPUTS.images));
  const config = getInput(INPUTS.config);
  const registry = getInput(INPUTS.registry);
  const token = getInput(INPUTS.githubToken);
  const maxParallel = getInput(INPUTS.maxParallel);
  const username = getInput(INPUTS.registryUsername);
  const password = getInput(INPUTS.registryPassword);
  if ((username === '') !== (password === '')) {
    throw new UserError(
      `inputs ${INPUTS.registryUsername} and ${INPUTS.registryPassword} go together: give both or neither`,
    );
  }
  return {
    command: command as Settings['command'],
    repoDir: path.resolve(getInput(INPUTS.workingDirectory) || '.'),
    ...(config ? { configPath: config } : {}),
    ...(registry ? { registry } : {}),
    ...(images ? { images } : {}),
    all: bool(INPUTS.all),
    json: false,
    graphFormat: format,
    ...(token ? { githubToken: token } : {}),
    ...(maxParallel
      ? { maxParallel: parseMaxParallel(maxParallel, `input ${INPUTS.maxParallel}`) }
      : {}),
    ...(username ? { registryUsername: username, registryPassword: password } : {}),
    ...promoteSettings(
      getInput(INPUTS.promoteFrom),
      getInput(INPUTS.promoteTo),
      command,
      `input ${INPUTS.promoteFrom}`,
      `input ${INPUTS.promoteTo}`,
    ),
  };
}
