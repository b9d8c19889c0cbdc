// Plans for monorepos laid out like each seed team's, in real git repositories with real
// commits: discovery, the Dockerfile graph, change detection, tags and reasons together.
import { symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { RepoFiles } from '../src/adapters/files.js';
import { Git } from '../src/adapters/git.js';
import { readGithubEvent, readGitlabEvent, readLocalEvent } from '../src/core/ci-event.js';
import { UserError } from '../src/core/errors.js';
import type { CiEvent } from '../src/core/types.js';
import { makePlan } from '../src/make-plan.js';
import type { FileChanges, TempRepo } from './support/git-repo.js';
import { cleanupRepos, makeRepo } from './support/git-repo.js';

afterAll(cleanupRepos);

async function planIn(
  dir: string,
  event: CiEvent,
  extra: { registry?: string; configPath?: string } = {},
) {
  const { plan } = await makePlan({
    git: new Git(dir),
    files: new RepoFiles(dir),
    event,
    log: () => {},
    now: new Date(Date.UTC(2026, 0, 2)),
    ...extra,
  });
  return plan;
}

const summary = (plan: Awaited<ReturnType<typeof planIn>>) =>
  plan.images.map((image) => [image.name, image.repository, image.tags, image.reasons]);

async function repoWith(files: FileChanges): Promise<{ repo: TempRepo; first: string }> {
  const repo = await makeRepo();
  const first = await repo.commit('initial', files);
  return { repo, first };
}

const localEvent = async (repo: TempRepo, since: string) =>
  readLocalEvent({
    sha: await repo.head(),
    branch: 'main',
    since,
    defaultBranch: 'main',
    actor: 'Dev.User',
  });

describe('seed 000: Dockerfile.<name> side by side in a subfolder, one shared context, fixed tags, ECR', () => {
  const ecr = '123456789012.dkr.ecr.us-west-2.amazonaws.com';
  const files: FileChanges = {
    'src/main.rs': 'fn main() {}\n',
    'tools/image-builder.yml': `registry: ${ecr}\ntags: [staging]\n`,
    'tools/.dockerignore': '*\n!common\n!builder-files\n!sdk-files\n',
    'tools/Dockerfile.builder':
      'FROM public.ecr.aws/docker/library/debian:bookworm\nCOPY common/ /opt/common/\nCOPY builder-files/ /opt/builder/\n',
    'tools/Dockerfile.sdk': `ARG BUILDER=${ecr}/builder:staging\nFROM \${BUILDER}\nCOPY sdk-files/ /opt/sdk/\n`,
    'tools/common/lib.sh': 'echo lib\n',
    'tools/builder-files/build.sh': 'echo build\n',
    'tools/sdk-files/sdk.sh': 'echo sdk\n',
    'tools/Makefile': 'all:\n',
  };

  test.each<[string, FileChanges, [string, string[]][]]>([
    [
      'the sdk files rebuild sdk only',
      { 'tools/sdk-files/sdk.sh': 'echo sdk 2\n' },
      [['sdk', ['changed sdk-files/sdk.sh']]],
    ],
    [
      "builder's Dockerfile rebuilds builder and sdk built FROM it",
      {
        'tools/Dockerfile.builder':
          'FROM public.ecr.aws/docker/library/debian:trixie\nCOPY common/ /opt/common/\nCOPY builder-files/ /opt/builder/\n',
      },
      [
        ['builder', ['changed Dockerfile.builder']],
        ['sdk', ['parent builder is rebuilt']],
      ],
    ],
    ['the Makefile is ignored by .dockerignore', { 'tools/Makefile': 'all: x\n' }, []],
    ['code outside the folder is not ours', { 'src/main.rs': 'fn main() { }\n' }, []],
  ])('%s', async (_what, change, expected) => {
    const { repo, first } = await repoWith(files);
    await repo.commit('change', change);
    const plan = await planIn(join(repo.dir, 'tools'), await localEvent(repo, first));
    expect(plan.images.map((image) => [image.name, image.reasons])).toEqual(expected);
    for (const image of plan.images) {
      expect(image.repository).toBe(`${ecr}/${image.name}`);
      expect(image.tags).toEqual(['staging']);
      expect(image.context).toBe('.');
    }
  });
});

describe('seed 001: a folder per image, Kaniko in GitLab CI, latest/ref-slug/sha', () => {
  test('a merge request pipeline and a default-branch push', async () => {
    const { repo, first } = await repoWith({
      'example-image/Dockerfile': 'FROM alpine:3.20\nRUN echo hi\n',
      'other-image/Dockerfile': 'FROM alpine:3.20\n',
      '.gitlab-ci.yml': 'include: []\n',
      'README.md': '# docker-images\n',
    });
    await repo.git('checkout', '-q', '-b', 'My_Feature/x');
    const head = await repo.commit('change', {
      'example-image/Dockerfile': 'FROM alpine:3.21\nRUN echo hi\n',
    });
    const mergeRequest = readGitlabEvent({
      GITLAB_CI: 'true',
      CI_PIPELINE_SOURCE: 'merge_request_event',
      CI_COMMIT_SHA: head,
      CI_COMMIT_BEFORE_SHA: '0000000000000000000000000000000000000000',
      CI_COMMIT_REF_NAME: 'My_Feature/x',
      CI_MERGE_REQUEST_DIFF_BASE_SHA: first,
      CI_MERGE_REQUEST_SOURCE_BRANCH_NAME: 'My_Feature/x',
      CI_MERGE_REQUEST_TARGET_BRANCH_NAME: 'main',
      CI_DEFAULT_BRANCH: 'main',
    });
    const ecr = '123456789012.dkr.ecr.eu-west-1.amazonaws.com';
    const mrPlan = await planIn(repo.dir, mergeRequest, { registry: ecr });
    expect(summary(mrPlan)).toEqual([
      [
        'example-image',
        `${ecr}/example-image`,
        [head, 'my-feature-x'],
        ['changed example-image/Dockerfile'],
      ],
    ]);

    await repo.git('checkout', '-q', 'main');
    await repo.git('merge', '-q', '--ff-only', 'My_Feature/x');
    const push = readGitlabEvent({
      GITLAB_CI: 'true',
      CI_PIPELINE_SOURCE: 'push',
      CI_COMMIT_SHA: head,
      CI_COMMIT_BEFORE_SHA: first,
      CI_COMMIT_REF_NAME: 'main',
      CI_COMMIT_BRANCH: 'main',
      CI_DEFAULT_BRANCH: 'main',
    });
    const pushPlan = await planIn(repo.dir, push, { registry: ecr });
    expect(pushPlan.images.map((image) => image.tags)).toEqual([[head, 'main', 'latest']]);
    expect(pushPlan.unaffected.map((u) => u.name)).toEqual(['other-image']);
  });
});

describe('seed 002: channels with a debug variant, user channels', () => {
  const files: FileChanges = {
    'image-builder.yml': [
      'registry: gcr.io/lattice-dev',
      'channel: user',
      'images:',
      '  envoy-prepare:',
      '    variants: { debug: { target: debug } }',
      '',
    ].join('\n'),
    'docker/envoy-prepare/Dockerfile':
      'FROM golang:1.22 AS build\nCOPY . /src\nRUN go build\nFROM debian:bookworm AS debug\nFROM gcr.io/distroless/base AS prod\n',
    'docker/kubernetes-integration/Dockerfile': 'FROM debian:bookworm\n',
  };

  test('the CI user names the channel', async () => {
    const { repo, first } = await repoWith(files);
    await repo.commit('change', { 'docker/envoy-prepare/main.go': 'package main\n' });
    const plan = await planIn(repo.dir, await localEvent(repo, first));
    expect(plan.images.map((image) => image.repository)).toEqual([
      'gcr.io/lattice-dev/dev-user-envoy-prepare',
      'gcr.io/lattice-dev/dev-user-debug-envoy-prepare',
    ]);
  });

  test('the stable channel from the config', async () => {
    const { repo, first } = await repoWith({
      ...files,
      'image-builder.yml': 'registry: gcr.io/lattice-dev\nchannel: stable\n',
    });
    await repo.commit('change', {
      'docker/kubernetes-integration/Dockerfile': 'FROM debian:trixie\n',
    });
    const plan = await planIn(repo.dir, await localEvent(repo, first));
    expect(plan.images.map((image) => image.repository)).toEqual([
      'gcr.io/lattice-dev/stable-kubernetes-integration',
    ]);
  });
});

describe('seed 003: buildpacks apps to ECR Public with a name/sub-name', () => {
  test('project.toml folders are images built with pack', async () => {
    const { repo, first } = await repoWith({
      'image-builder.yml':
        "registry: public.ecr.aws/alias1\nrepository: '{registry}/image_name/{image}'\ntags: [latest]\ndefault-branch: main\n",
      'apps/service_name/project.toml': '[_]\nschema-version = "0.2"\n',
      'apps/service_name/app.py': 'print(1)\n',
      'apps/worker/project.toml': '[_]\nschema-version = "0.2"\n',
    });
    await repo.commit('change', { 'apps/service_name/app.py': 'print(2)\n' });
    const plan = await planIn(repo.dir, await localEvent(repo, first));
    expect(
      plan.images.map((i) => [i.name, i.kind, i.builder, i.repository, i.tags, i.dockerfile]),
    ).toEqual([
      [
        'service_name',
        'buildpacks',
        'pack',
        'public.ecr.aws/alias1/image_name/service_name',
        ['latest'],
        undefined,
      ],
    ]);
  });
});

describe('seed 004: images/<name> with container-assets, a dependency chain and watched source', () => {
  const files: FileChanges = {
    'image-builder.yml': [
      'registry: quay.io/foreman',
      'tags: [sha, test]',
      'images:',
      '  foreman:',
      "    watch: ['src/foreman/**']",
      "    test: { command: 'smoke.sh', timeout: 600 }",
      '',
    ].join('\n'),
    'images/base/Dockerfile': 'FROM quay.io/centos/centos:stream9\n',
    'images/foreman/Dockerfile':
      'FROM quay.io/foreman/base:latest\nCOPY container-assets/ /usr/local/bin/\n',
    'images/foreman/container-assets/entrypoint.sh': '#!/bin/sh\n',
    'images/dynflow/Dockerfile':
      'ARG BASE=quay.io/foreman/foreman\nFROM ${BASE}:latest\nCOPY container-assets/ /\n',
    'images/dynflow/container-assets/dynflow.yml': 'a: 1\n',
    'images/proxy/Dockerfile': 'FROM quay.io/centos/centos:stream9\n',
    'src/foreman/app.rb': 'puts 1\n',
  };

  test.each<[string, FileChanges, [string, string[]][]]>([
    [
      'a base change reaches children and grandchildren',
      { 'images/base/Dockerfile': 'FROM quay.io/centos/centos:stream10\n' },
      [
        ['base', ['changed images/base/Dockerfile']],
        ['foreman', ['parent base is rebuilt']],
        ['dynflow', ['parent foreman is rebuilt']],
      ],
    ],
    [
      'the packaged source rebuilds foreman and dynflow',
      { 'src/foreman/app.rb': 'puts 2\n' },
      [
        ['foreman', ['changed src/foreman/app.rb (watch src/foreman/**)']],
        ['dynflow', ['parent foreman is rebuilt']],
      ],
    ],
    [
      'container-assets of a leaf',
      { 'images/dynflow/container-assets/dynflow.yml': 'a: 2\n' },
      [['dynflow', ['changed images/dynflow/container-assets/dynflow.yml']]],
    ],
    [
      'a config change rebuilds the images whose settings changed',
      { 'image-builder.yml': files['image-builder.yml']!.replace('timeout: 600', 'timeout: 900') },
      [
        ['foreman', ['its settings changed in image-builder.yml']],
        ['dynflow', ['parent foreman is rebuilt']],
      ],
    ],
    ['a deleted image is reported, not built', { 'images/proxy/Dockerfile': null }, []],
  ])('%s', async (_what, change, expected) => {
    const { repo, first } = await repoWith(files);
    const head = await repo.commit('change', change);
    const plan = await planIn(repo.dir, await localEvent(repo, first));
    expect(plan.images.map((image) => [image.name, image.reasons])).toEqual(expected);
    for (const image of plan.images) expect(image.tags).toEqual([head, 'test']);
    if (change['images/proxy/Dockerfile'] === null) {
      expect(plan.removed).toEqual([{ name: 'proxy', source: 'images/proxy/Dockerfile' }]);
    }
  });

  test('levels and parents follow the chain', async () => {
    const { repo, first } = await repoWith(files);
    await repo.commit('change', {
      'images/base/Dockerfile': 'FROM quay.io/centos/centos:stream10\n',
    });
    const plan = await planIn(repo.dir, await localEvent(repo, first));
    expect(plan.images.map((i) => [i.name, i.level, i.parents, i.rebuiltParents])).toEqual([
      ['base', 0, [], []],
      ['foreman', 1, ['base'], ['base']],
      ['dynflow', 2, ['foreman'], ['foreman']],
    ]);
    expect(plan.images[1]?.test).toEqual({ command: 'smoke.sh', timeoutSeconds: 600 });
  });
});

describe('GitHub events on a real repository', () => {
  test('a pull request plans against the merge base; its tags never include latest', async () => {
    const { repo, first } = await repoWith({
      'a/Dockerfile': 'FROM scratch\nCOPY . /\n',
      'b/Dockerfile': 'FROM scratch\nCOPY . /\n',
    });
    await repo.commit('main moves on', { 'b/x': '1' });
    await repo.git('checkout', '-q', '-b', 'feature', first);
    const head = await repo.commit('feature', { 'a/x': '1' });
    const event = readGithubEvent(
      {
        GITHUB_EVENT_NAME: 'pull_request',
        GITHUB_SHA: 'f'.repeat(40),
        GITHUB_REF: 'refs/pull/1/merge',
        GITHUB_HEAD_REF: 'feature',
        GITHUB_BASE_REF: 'main',
      },
      {
        pull_request: {
          head: { sha: head, ref: 'feature' },
          base: { sha: await repo.git('rev-parse', 'main'), ref: 'main' },
        },
        repository: { default_branch: 'main' },
      },
    );
    const plan = await planIn(repo.dir, event);
    expect(summary(plan)).toEqual([['a', 'a', [head, 'feature'], ['changed a/x']]]);
    expect(plan.event.base).toBe(first);
  });
});

describe('bad input ends in one clear message', () => {
  test.each<[string, FileChanges, RegExp]>([
    [
      'broken YAML',
      { 'image-builder.yml': 'images:\n  api: [\n' },
      /^image-builder\.yml:\d+(:\d+)?: /,
    ],
    [
      'an unknown key',
      { 'image-builder.yml': 'tgas: [sha]\n' },
      /image-builder\.yml:1(:\d+)?: .*unknown key "tgas".*did you mean "tags"/,
    ],
    [
      'a cycle',
      { 'a/Dockerfile': 'FROM b\n', 'b/Dockerfile': 'FROM a\n' },
      /dependency cycle: a -> b -> a/,
    ],
    [
      'duplicate names',
      { 'x/api/Dockerfile': 'FROM scratch\n', 'y/api/Dockerfile': 'FROM scratch\n' },
      /two images are named "api": x\/api\/Dockerfile and y\/api\/Dockerfile/,
    ],
    [
      'a configured Dockerfile that is missing',
      { 'image-builder.yml': 'images:\n  api:\n    dockerfile: nope/Dockerfile\n' },
      /image-builder\.yml:2(:\d+)?: image "api": Dockerfile nope\/Dockerfile does not exist/,
    ],
    [
      'an invalid tag rule',
      { 'image-builder.yml': "tags: ['{{branch}}']\n", 'a/Dockerfile': 'FROM scratch\n' },
      /tag rule "\{\{branch\}\}"/,
    ],
    [
      'a FROM that is not a reference',
      { 'a/Dockerfile': 'FROM UPPER/Case\n' },
      /a\/Dockerfile:1: /,
    ],
    ['a Dockerfile without FROM', { 'a/Dockerfile': 'RUN echo\n' }, /a\/Dockerfile: .*FROM/],
    [
      'an invalid registry',
      { 'image-builder.yml': 'registry: Bad Registry\n', 'a/Dockerfile': 'FROM scratch\n' },
      /registry/,
    ],
  ])('%s', async (_what, files, message) => {
    const { repo, first } = await repoWith({ 'README.md': 'x\n', ...files });
    const branch = await repo.git('rev-parse', '--abbrev-ref', 'HEAD');
    const event = readLocalEvent({
      sha: first,
      branch: branch === 'main' ? 'feature/x' : branch,
      since: first,
    });
    const error = await planIn(repo.dir, event).then(
      () => undefined,
      (caught: unknown) => caught as Error,
    );
    expect(error).toBeInstanceOf(UserError);
    expect(error?.message).toMatch(message);
    expect(error?.message.split('\n')).toHaveLength(1);
  });

  test('a build context that leaves the repository through a symlink', async () => {
    const { repo } = await repoWith({
      'README.md': 'x\n',
      'image-builder.yml': 'images:\n  api:\n    context: link\n    dockerfile: api/Dockerfile\n',
      'api/Dockerfile': 'FROM scratch\n',
    });
    await symlink('..', join(repo.dir, 'link'));
    await repo.git('add', 'link');
    const head = await repo.commit('add link');
    const error = await planIn(
      repo.dir,
      readLocalEvent({ sha: head, branch: 'main', all: true }),
    ).then(
      () => undefined,
      (caught: unknown) => caught as Error,
    );
    expect(error?.message).toMatch(
      /build context of image "api": link leads outside the repository/,
    );
  });
});

describe('what the Dockerfile reads decides what rebuilds it', () => {
  test('a file in the context that no COPY reads changes nothing; one it copies does', async () => {
    const { repo, first } = await repoWith({
      'images/api/Dockerfile': 'FROM scratch\nCOPY bin/ /usr/bin/\n',
      'images/api/bin/api': 'v1',
      'images/api/NOTES.txt': 'notes',
    });
    await repo.commit('notes', { 'images/api/NOTES.txt': 'more notes' });
    expect((await planIn(repo.dir, await localEvent(repo, first))).images).toEqual([]);
    const notes = await repo.head();
    await repo.commit('binary', { 'images/api/bin/api': 'v2' });
    const plan = await planIn(repo.dir, await localEvent(repo, notes));
    expect(plan.images.map((image) => image.reasons)).toEqual([['changed images/api/bin/api']]);
  });
});
