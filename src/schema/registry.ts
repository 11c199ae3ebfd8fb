/** The Confluent-compatible schema registry client (Apicurio's ccompat API locally, Confluent's in production). */
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Config } from '../config.js';

export function createSchemaRegistry(config: Config): SchemaRegistry {
  const { url, auth } = config.schemaRegistry;
  return new SchemaRegistry({ host: url, ...(auth ? { auth } : {}) });
}
