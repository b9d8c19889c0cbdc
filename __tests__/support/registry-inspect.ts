// Reading what a test registry holds, plainly over HTTP (no auth): manifests, digests, labels.

const ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
].join(', ');

export interface Manifest {
  config: { digest: string };
  layers: { digest: string }[];
}

export interface RegistryInspector {
  manifestOf(
    repository: string,
    reference: string,
  ): Promise<{ digest: string; manifest: Manifest } | undefined>;
  labelsOf(repository: string, reference: string): Promise<Record<string, string>>;
  layersOf(repository: string, reference: string): Promise<string[]>;
}

export function inspectRegistry(host: () => string): RegistryInspector {
  const manifestOf: RegistryInspector['manifestOf'] = async (repository, reference) => {
    const response = await fetch(`http://${host()}/v2/${repository}/manifests/${reference}`, {
      headers: { Accept: ACCEPT },
    });
    if (response.status === 404) return undefined;
    return {
      digest: response.headers.get('docker-content-digest') ?? '',
      manifest: (await response.json()) as Manifest,
    };
  };
  return {
    manifestOf,
    async labelsOf(repository, reference) {
      const found = await manifestOf(repository, reference);
      const config = await fetch(
        `http://${host()}/v2/${repository}/blobs/${found?.manifest.config.digest}`,
      );
      return ((await config.json()) as { config: { Labels: Record<string, string> } }).config
        .Labels;
    },
    async layersOf(repository, reference) {
      return (
        (await manifestOf(repository, reference))?.manifest.layers.map((layer) => layer.digest) ??
        []
      );
    },
  };
}
