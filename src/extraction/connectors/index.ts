/** Connector kinds, registered by name; `c360 connect --config <file>` builds the one its `type` names. */
import { readJsonFile } from '../../config.js';
import { ConfigError } from '../../contracts/errors.js';
import { ComponentRegistry } from '../../registry.js';
import type { Connector, ConnectorSpec } from './connector.js';
import { restConnector } from './rest.js';

export const CONNECTORS = new ComponentRegistry<ConnectorSpec>('connector').register(restConnector);

/** A connector from its settings file: `type` (default rest) picks the kind, the rest are its options. */
export function loadConnector(file: string, env: NodeJS.ProcessEnv = process.env): Connector {
  const json = readJsonFile(file, 'connector config');
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new ConfigError(`connector config ${file} must be a JSON object.`);
  const { type = 'rest', ...settings } = json as Record<string, unknown>;
  if (typeof type !== 'string') throw new ConfigError(`connector config ${file}: type must be a string.`);
  return CONNECTORS.require(type, `connector config ${file}: type`).create(settings, env, `connector config ${file}`);
}
