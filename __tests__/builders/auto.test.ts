// `builder: auto` against recording fakes of docker and buildah, present or absent: PATH
// holds the fakes' folder only, so the machine's own tools never answer.
import { chooseBuilder, type BuilderChoice } from '../../src/builders/auto.js';
import { UserError } from '../../src/core/errors.js';
import { FakeTools, type FakeResponse } from '../support/fake-tools.js';

const BUILDX_VERSION: FakeResponse = {
  when: ['buildx', 'version'],
  stdout: ['github.com/docker/buildx v0.15.1 1c1dbb2'],
};
const inspect = (status: string): FakeResponse => ({
  when: ['buildx', 'inspect'],
  stdout: [
    'Name:   builder-1',
    'Driver: docker-container',
    '',
    'Nodes:',
    'Name:   builder-10',
    `Status: ${status}`,
  ],
});
const NO_BUILDX: FakeResponse = {
  when: ['buildx'],
  stdout: ["docker: 'buildx' is not a docker command."],
  exitCode: 1,
};
const BUILDAH: FakeResponse = {
  when: ['--version'],
  stdout: ['buildah version 1.28.2 (image-spec 1.0.2-dev, runtime-spec 1.0.2-dev)'],
};

interface Case {
  kaniko?: boolean;
  docker?: FakeResponse[];
  buildah?: boolean;
}

async function choose(setup: Case, kind?: 'dockerfile' | 'buildpacks') {
  const fakes = await FakeTools.create();
  try {
    if (setup.docker) await fakes.install('docker', setup.docker);
    if (setup.buildah) await fakes.install('buildah', [BUILDAH]);
    const choice = await chooseBuilder({
      env: { PATH: fakes.bin },
      exec: fakes.exec,
      fileExists: async (path) => setup.kaniko === true && path === '/kaniko/executor',
      ...(kind !== undefined ? { kind } : {}),
    }).catch((error: unknown) => error);
    const probes = (await fakes.records()).map((record) => [record.tool, ...record.argv].join(' '));
    return { choice, probes };
  } finally {
    await fakes.remove();
  }
}

describe('chooseBuilder', () => {
  it.each<[string, Case, BuilderChoice['name'], RegExp, string[]]>([
    [
      'inside a Kaniko container, whatever else is there',
      { kaniko: true, docker: [BUILDX_VERSION, inspect('running')], buildah: true },
      'kaniko',
      /^inside a Kaniko container \(\/kaniko\/executor exists\)$/,
      [],
    ],
    [
      'buildx with a running builder before buildah',
      { docker: [BUILDX_VERSION, inspect('running')], buildah: true },
      'buildx',
      /shows builder builder-1 running \(github.com\/docker\/buildx v0.15.1 1c1dbb2\)$/,
      ['docker buildx version', 'docker buildx inspect'],
    ],
    [
      'buildah when the buildx builder is not running',
      { docker: [BUILDX_VERSION, inspect('inactive')], buildah: true },
      'buildah',
      /builder-1 inactive, not running; found buildah version 1.28.2/,
      ['docker buildx version', 'docker buildx inspect', 'buildah --version'],
    ],
    [
      'buildah when docker has no buildx',
      { docker: [NO_BUILDX], buildah: true },
      'buildah',
      /`docker buildx version` failed: docker: 'buildx' is not a docker command\.; found buildah/,
      ['docker buildx version', 'buildah --version'],
    ],
    [
      'buildah when there is no docker at all',
      { buildah: true },
      'buildah',
      /`docker buildx version` failed: docker: spawn docker ENOENT; found buildah/,
      ['buildah --version'],
    ],
  ])('%s', async (_name, setup, expected, reason, probes) => {
    const result = await choose(setup);
    expect(result.choice).toEqual({ name: expected, reason: expect.stringMatching(reason) });
    expect(result.probes).toEqual(probes);
  });

  it('pack for a buildpacks image, without probing', async () => {
    const result = await choose(
      { docker: [BUILDX_VERSION, inspect('running')], buildah: true },
      'buildpacks',
    );
    expect(result.choice).toEqual({
      name: 'pack',
      reason: 'a buildpacks image (project.toml) is built with pack',
    });
    expect(result.probes).toEqual([]);
  });

  it('a UserError listing what was looked for and how to get each', async () => {
    const { choice } = await choose({ docker: [BUILDX_VERSION, inspect('stopped')] });
    expect(choice).toBeInstanceOf(UserError);
    const message = (choice as Error).message;
    expect(message.split('\n')).toEqual([
      'no image builder found (builder: auto). Looked for:',
      '  - Kaniko: /kaniko/executor does not exist (not in a Kaniko container)',
      '  - BuildKit: `docker buildx inspect` shows builder builder-1 stopped, not running',
      '  - Buildah: `buildah --version` failed: buildah: spawn buildah ENOENT',
      'To get one:',
      '  - Kaniko: run the job in a Kaniko image with Node.js added (see docs/gitlab-ci.md)',
      expect.stringContaining('add a docker/setup-buildx-action step'),
      expect.stringContaining('apt-get install buildah'),
      'or name the builder in image-builder.yml (builder: buildx | buildah | kaniko).',
    ]);
  });

  it('looks for the executor where the settings say', async () => {
    const fakes = await FakeTools.create();
    try {
      const looked: string[] = [];
      const choice = await chooseBuilder({
        env: { PATH: fakes.bin },
        exec: fakes.exec,
        kanikoExecutor: '/opt/kaniko/executor',
        fileExists: async (path) => {
          looked.push(path);
          return true;
        },
      });
      expect(choice.name).toBe('kaniko');
      expect(looked).toEqual(['/opt/kaniko/executor']);
    } finally {
      await fakes.remove();
    }
  });
});
