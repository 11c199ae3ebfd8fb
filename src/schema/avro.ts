/** The Avro contracts in avro/: loaded once, parsed with the project's logical types. */
import fs from 'node:fs';
import path from 'node:path';
import avro from 'avsc';
import { projectRoot } from '../contracts/project.js';
import { DecimalType } from './decimal.js';

export type AvroType = avro.Type;

function avroDir(): string {
  return path.join(projectRoot(), 'avro');
}

const cache = new Map<string, { schema: Record<string, unknown>; type: avro.Type }>();

/** An entity's schema by file name (avro/<name>.avsc): the JSON as written and its avsc type. */
export function loadSchema(name: string): { schema: Record<string, unknown>; type: avro.Type } {
  let entry = cache.get(name);
  if (!entry) {
    const file = path.join(avroDir(), `${name}.avsc`);
    const schema = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
    entry = { schema, type: parseType(schema) };
    cache.set(name, entry);
  }
  return entry;
}

export function parseType(schema: unknown): avro.Type {
  // A fresh options object each time: avsc keeps its registry of named types in it.
  return avro.Type.forSchema(schema as avro.Schema, { logicalTypes: { decimal: DecimalType }, wrapUnions: 'auto' });
}

export function listSchemas(): string[] {
  return fs
    .readdirSync(avroDir())
    .filter((f) => f.endsWith('.avsc'))
    .map((f) => f.slice(0, -'.avsc'.length))
    .sort();
}
