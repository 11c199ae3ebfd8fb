/**
 * Writes docs/reference.md from the code: the bundled topology's sources and entities, every
 * registered component (stages, quality rules, input formats, connectors, storage backends) with
 * its options, every error code, every metric, every environment variable and every CLI command
 * and flag. `npm run docs` rewrites it; reference.test.ts fails when it is out of date.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Command } from 'commander';
import { Registry } from 'prom-client';
import { z } from 'zod';
import { buildProgram, EXIT_CODES } from '../src/cli/program.js';
import { envSchema } from '../src/config.js';
import { PROCESS_ERROR_CODES, RECORD_ERROR_CODES } from '../src/contracts/errors.js';
import { projectRoot } from '../src/contracts/project.js';
import { collectorSettingsSchema } from '../src/extraction/collector/settings.js';
import { CONNECTORS } from '../src/extraction/connectors/index.js';
import { mappingFileSchema } from '../src/extraction/mapping.js';
import { FORMATS } from '../src/extraction/readers/index.js';
import { METRIC_SETS } from '../src/observability/metrics.js';
import { STAGES } from '../src/stages/index.js';
import { RULES } from '../src/stages/quality/rules/index.js';
import { STORAGE_BACKENDS } from '../src/storage/backends.js';
import { loadTopology } from '../src/topology/load.js';
import { registerDevCommands } from './cli/index.js';

export const REFERENCE_FILE = path.join(projectRoot(), 'docs', 'reference.md');

type JsonSchema = {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  default?: unknown;
  description?: string;
  enum?: unknown[];
  const?: unknown;
  oneOf?: JsonSchema[];
  anyOf?: JsonSchema[];
  minimum?: number;
  items?: JsonSchema;
  format?: string;
};

const cell = (v: unknown) => String(v).replaceAll('|', '\\|').replaceAll('\n', ' ');
const code = (v: unknown) => `\`${String(v)}\``;
const table = (head: string[], rows: unknown[][]) =>
  [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`)].join('\n');
/** Defaults that depend on the machine (a home folder) are written as a reader would type them. */
const shown = (v: unknown) => (v === undefined ? '—' : code(JSON.stringify(v).replaceAll(os.homedir(), '~')));

function typeOf(s: JsonSchema): string {
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (s.enum) return s.enum.map((e) => JSON.stringify(e)).join(' | ');
  const variants = s.oneOf ?? s.anyOf;
  if (variants) return variants.map(typeOf).join(' or ');
  if (s.type === 'array') return `${s.items ? typeOf(s.items) : 'any'}[]`;
  return [s.type ?? 'any', s.format].filter(Boolean).join(' ');
}

/** One row per option, nested objects and each variant of a union flattened into dotted names. */
function optionRows(s: JsonSchema, prefix = ''): unknown[][] {
  const rows: unknown[][] = [];
  for (const [name, p] of Object.entries(s.properties ?? {})) {
    const key = `${prefix}${name}`;
    const variants = p.oneOf ?? p.anyOf;
    if (p.properties) {
      rows.push([code(key), 'object', s.required?.includes(name) ? 'required' : shown(p.default), p.description ?? '']);
      rows.push(...optionRows(p, `${key}.`));
    } else if (variants?.every((v) => v.properties)) {
      rows.push([code(key), 'object, one of the kinds below', s.required?.includes(name) ? 'required' : shown(p.default), p.description ?? '']);
      for (const v of variants) rows.push(...optionRows(v, `${key}.`));
    } else {
      rows.push([code(key), typeOf(p), s.required?.includes(name) ? 'required' : shown(p.default), p.description ?? '']);
    }
  }
  return rows;
}

function options(schema: z.ZodType | undefined, name = 'option'): string {
  if (!schema) return 'No options.';
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const rows = optionRows(json);
  return rows.length === 0 ? 'No options.' : table([name, 'type', 'default', 'meaning'], rows);
}

function commandRows(cmd: Command, prefix: string): unknown[][] {
  const name = `${prefix} ${cmd.name()}`.trim();
  const args = cmd.registeredArguments.map((a) => (a.required ? `<${a.name()}>` : `[${a.name()}]`)).join(' ');
  const rows: unknown[][] = [];
  if (cmd.commands.length === 0 || cmd.options.length > 0) {
    rows.push([code(`${name}${args ? ` ${args}` : ''}`), '', cmd.description()]);
    for (const o of cmd.options) {
      const fallback =
        o.defaultValue === undefined || (Array.isArray(o.defaultValue) && o.defaultValue.length === 0) ? '' : ` (default ${JSON.stringify(o.defaultValue)})`;
      rows.push(['', code(o.flags), `${o.description}${fallback}${o.mandatory ? ' — required' : ''}`]);
    }
  }
  for (const sub of cmd.commands) rows.push(...commandRows(sub, name));
  return rows;
}

function metricRows(): unknown[][] {
  const registry = new Registry();
  for (const create of METRIC_SETS) create(registry);
  const rows: unknown[][] = [];
  for (const m of registry.getMetricsAsArray()) {
    const labels = (m as unknown as { labelNames?: readonly string[] }).labelNames ?? [];
    rows.push([code(m.name), m.type, labels.map(code).join(', '), m.help]);
  }
  return rows.sort((a, b) => String(a[0]).localeCompare(String(b[0])));
}

export async function renderReference(): Promise<string> {
  const topology = await loadTopology('customer360');
  const sections: string[] = [
    '# Reference',
    '',
    'Generated from the code by `npm run docs` (`dev/reference.ts`); `dev/reference.test.ts` fails when this file is out of date. Do not edit by hand.',
    '',
    `## Sources and entities (\`topologies/${topology.name}.ts\`)`,
    '',
    `Namespace \`${topology.namespace}\`, stages ${topology.stages.map(code).join(' → ')}, dedup window ${topology.dedupWindowDays} days, record limit ${topology.maxRecordBytes} bytes, at most ${topology.nearDuplicateRefsPerKey} identities per near-duplicate key, a NearDuplicate emitted from match probability ${topology.matching.threshold} (${topology.matching.model ? "the topology's model" : 'the built-in model'}).`,
    '',
    table(
      ['source', 'entity (avro/)', 'natural id', 'dedup by', 'near-duplicate keys', 'quality checks', 'partitions'],
      topology.sources.flatMap((s) =>
        [s, ...s.entities].map((e, i) => [
          i === 0 ? `${code(s.name)}${s.description ? ` — ${s.description}` : ''}` : '',
          `${code(e.entity)}${i === 0 && s.entities.length > 0 ? ' (primary)' : ''}`,
          code(e.key),
          e.dedup.eventIdField ? `event id ${code(e.dedup.eventIdField)}` : 'content',
          e.nearDuplicates
            ? Object.entries(e.nearDuplicates)
                .map(([k, v]) => `${k} ${code(v)}`)
                .join(', ')
            : '—',
          e.quality.map((q) => `${code(q.field)} ${q.rule}${q.severity === 'warn' ? ' (warn)' : ''}`).join(', ') || '—',
          i === 0 ? s.partitions : '',
        ]),
      ),
    ),
    '',
    '## Stages',
    '',
    'A topology lists them in this order. What a stage reads of the record must be written by a stage before it; a topology that breaks this is refused at start-up.',
    '',
    table(
      ['stage', 'reads', 'writes', 'what it does'],
      STAGES.all().map((s) => [code(s.name), s.reads.map(code).join(', ') || '—', s.writes.map(code).join(', ') || '—', s.description]),
    ),
    '',
    '## Quality rules',
    '',
    "Used as `{ field, rule, options, severity }` in a source's `quality` list.",
    ...RULES.all().flatMap((r) => ['', `### \`${r.name}\``, '', r.description, '', options(r.options)]),
    '',
    '## Input formats',
    '',
    'Chosen by `--format` or by the file name (before `.gz`).',
    '',
    table(
      ['format', 'extensions', 'what it reads'],
      FORMATS.all().map((f) => [code(f.name), f.extensions.map(code).join(', '), f.description]),
    ),
    '',
    '## Connectors',
    '',
    "A connector file names its kind with `type` (default `rest`); its other fields are the kind's options.",
    ...CONNECTORS.all().flatMap((c) => ['', `### \`${c.name}\``, '', c.description, '', options(c.options)]),
    '',
    '## Settings files',
    '',
    '### Mapping file (`c360 ingest --mapping`, `<landing zone>/<source>/.mapping.json`)',
    '',
    options(mappingFileSchema),
    '',
    '### Collector settings (`c360 collect --config`)',
    '',
    options(collectorSettingsSchema),
    '',
    '## Storage backends',
    '',
    'The scheme of `C360_STORAGE_URL` picks one.',
    '',
    table(
      ['backend', 'URL', 'what it is'],
      STORAGE_BACKENDS.all().map((b) => [code(b.name), b.schemes.map((s) => (s ? code(`${s}://…`) : 'a folder path')).join(', '), b.description]),
    ),
    '',
    '## Record error codes',
    '',
    'What a dead letter (or, at severity `warn`, a flag) carries. `docs/contracts.md` explains them.',
    '',
    table(
      ['code', 'meaning'],
      Object.entries(RECORD_ERROR_CODES).map(([c, m]) => [code(c), m]),
    ),
    '',
    '## Process error codes',
    '',
    'What a process reports when it fails; a retriable one is retried with backoff (`src/retry.ts`), the others stop with one sentence.',
    '',
    table(
      ['code', 'retried', 'meaning'],
      Object.entries(PROCESS_ERROR_CODES).map(([c, e]) => [code(c), e.retriable ? 'yes' : 'no', e.meaning]),
    ),
    '',
    '## Metrics',
    '',
    'Served on `/metrics` by every long-running command, beside Node\'s default process metrics, with the label `service="c360-ingest"`.',
    '',
    table(['metric', 'type', 'labels', 'meaning'], metricRows()),
    '',
    '## Environment',
    '',
    'Read once at start and validated (`src/config.ts`); a bad value stops the process with one sentence naming the variable.',
    '',
    options(envSchema, 'variable'),
    '',
    '## Command line',
    '',
    'Exit codes of every command:',
    '',
    table(
      ['code', 'meaning'],
      EXIT_CODES.map(([code, meaning]) => [String(code), meaning]),
    ),
    '',
    table(
      ['command', 'flag', 'meaning'],
      buildProgram([registerDevCommands]).commands.flatMap((c) => commandRows(c, 'c360')),
    ),
    '',
  ];
  return sections.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  fs.writeFileSync(REFERENCE_FILE, await renderReference());
  console.log(`wrote ${path.relative(process.cwd(), REFERENCE_FILE)}`);
}
