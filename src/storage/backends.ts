/** The raw layer's storage backends, registered by name; C360_STORAGE_URL's scheme picks one. */
import type { Config } from '../config.js';
import { ConfigError } from '../contracts/errors.js';
import { ComponentRegistry } from '../registry.js';
import { localBackend } from './local-store.js';
import type { ObjectStore, StorageBackendSpec } from './object-store.js';
import { s3Backend } from './s3-store.js';

export const STORAGE_BACKENDS = new ComponentRegistry<StorageBackendSpec>('storage backend').register(localBackend, s3Backend);

export function openObjectStore(config: Config): ObjectStore {
  const url = config.storageUrl;
  const scheme = /^([a-z0-9+]+):\/\//.exec(url)?.[1] ?? '';
  const backend = STORAGE_BACKENDS.all().find((b) => b.schemes.includes(scheme));
  if (!backend)
    throw new ConfigError(
      `C360_STORAGE_URL ${url} has no storage backend for "${scheme}://" (known: ${STORAGE_BACKENDS.all()
        .flatMap((b) => b.schemes.filter(Boolean).map((x) => `${x}://`))
        .join(', ')}, or a folder).`,
    );
  return backend.create(url, config);
}
