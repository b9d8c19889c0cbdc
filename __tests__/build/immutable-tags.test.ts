// ECR's immutable tags cannot run here (the distribution registry has no such mode): a stub
// answers exactly as ECR does — manifest PUT refused with TAG_INVALID, HEAD with the current digest.
import { addTag } from '../../src/build/run-build.js';
import type { RegistryClient } from '../../src/registry/client.js';
import { RegistryError } from '../../src/registry/errors.js';

const REPO = '123456789012.dkr.ecr.eu-west-1.amazonaws.com/api';
const SAME = `sha256:${'a'.repeat(64)}`;
const OTHER = `sha256:${'b'.repeat(64)}`;

// What addTag reads first: the image's manifest, by digest.
const getManifest = async () => ({
  digest: SAME,
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  bytes: Buffer.from('{}'),
});

function ecrLike(current: string): RegistryClient {
  return {
    getManifest,
    putManifest: async () => {
      throw new RegistryError({
        method: 'PUT',
        url: `https://${REPO.replace('/', '/v2/')}/manifests/release`,
        status: 400,
        errors: [
          {
            code: 'TAG_INVALID',
            message:
              "The image tag 'release' already exists in the 'api' repository and cannot be overwritten because the repository is immutable.",
          },
        ],
      });
    },
    headManifest: async () => ({
      digest: current,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      size: 1,
    }),
  } as unknown as RegistryClient;
}

describe('tags in a repository with immutable tags', () => {
  test('a tag already at the same digest is success', async () => {
    await expect(addTag(ecrLike(SAME), REPO, SAME, 'release')).resolves.toBeUndefined();
  });

  test('a tag at another digest is a clear error', async () => {
    await expect(addTag(ecrLike(OTHER), REPO, SAME, 'release')).rejects.toThrow(
      /api:release already exists and the repository's tags are IMMUTABLE: it points at sha256:b+, not at sha256:a+/,
    );
  });

  test('other registry errors are not mistaken for it', async () => {
    const client = {
      getManifest,
      putManifest: async () => {
        throw new RegistryError({
          method: 'PUT',
          url: 'http://127.0.0.1:5000/v2/api/manifests/x',
          status: 403,
          errors: [{ code: 'DENIED', message: 'denied' }],
        });
      },
    } as unknown as RegistryClient;
    await expect(addTag(client, '127.0.0.1:5000/api', SAME, 'x')).rejects.toThrow(/403 DENIED/);
  });
});
