/** Finds a topology by name (topologies/<name>) or path (.js or .json) and validates it. */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ConfigError, describeError } from '../contracts/errors.js';
import { projectRoot } from '../contracts/project.js';
import { type Topology, topologySchema } from '../contracts/topology-definition.js';
import { validated } from '../contracts/validation.js';
import { modelMismatch } from '../matching/model.js';
import { validateOptions } from '../registry.js';
import { listSchemas, loadSchema } from '../schema/avro.js';
import { undecidedFreeForm } from '../schema/personal.js';
import { loadTrackingPlan } from '../schema/tracking-plan.js';
import { STAGES } from '../stages/index.js';
import { RULES } from '../stages/quality/rules/index.js';

export async function loadTopology(ref: string, overrides: { namespace?: string } = {}): Promise<Topology> {
  let file: string;
  // A bundled topology is a plain name; anything with a folder or an extension is a file.
  if (/[/\\.]/.test(ref)) {
    file = path.resolve(ref);
    if (!/\.(json|js|mjs)$/.test(file))
      throw new ConfigError(`topology file ${file} is not a .js, .mjs or .json file: a topology is a JavaScript module exporting it, or JSON.`);
  } else {
    // Compiled topologies live in dist/ beside the compiled code; under vitest the .ts source is imported directly.
    const compiled = fileURLToPath(import.meta.url).includes(`${path.sep}dist${path.sep}`);
    file = path.join(projectRoot(), ...(compiled ? ['dist', 'topologies', `${ref}.js`] : ['topologies', `${ref}.ts`]));
  }
  if (!fs.existsSync(file)) throw new ConfigError(`topology "${ref}" was not found (looked for ${file}).`);
  if (!fs.statSync(file).isFile()) throw new ConfigError(`topology file ${file} is not a file.`);
  let input: unknown;
  if (file.endsWith('.json')) {
    try {
      input = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (err) {
      throw new ConfigError(`topology file ${file} is not valid JSON: ${(err as Error).message}.`);
    }
  } else {
    try {
      input = ((await import(pathToFileURL(file).href)) as { default?: unknown }).default;
    } catch (err) {
      // A syntax error or a module that throws as it loads: its first line, which names what is wrong, not a stack.
      const what = err instanceof SyntaxError ? 'has a syntax error' : 'failed as it loaded';
      throw new ConfigError(`topology file ${file} ${what}: ${describeError(err).split('\n', 1)[0]}.`);
    }
  }
  return validateTopology(input, overrides);
}

export function validateTopology(input: unknown, overrides: { namespace?: string } = {}): Topology {
  const valid = validated(topologySchema, input, (path, message) => `topology ${path || '(root)'} ${message}`);
  const topology = { ...valid, ...(overrides.namespace ? { namespace: overrides.namespace } : {}) };
  checkStages(topology.stages);
  const mismatch = topology.matching.model && modelMismatch(topology.matching.model);
  if (mismatch) throw new ConfigError(`topology matching.model.${mismatch}.`);
  const schemas = new Set(listSchemas());
  const names = new Set<string>();
  topology.sources.forEach((s, i) => {
    if (names.has(s.name)) throw new ConfigError(`topology sources.${i}.name "${s.name}" is declared twice.`);
    names.add(s.name);
    // Loaded and compiled here too, so a mistake in the plan stops start-up with one sentence.
    if (s.plan) loadTrackingPlan(s.plan);
    const entities = [s, ...s.entities];
    entities.forEach((e, k) => {
      const where = k === 0 ? `sources.${i}` : `sources.${i}.entities.${k - 1}`;
      if (!schemas.has(e.entity)) throw new ConfigError(`topology ${where}.entity "${e.entity}" has no schema in avro/ (known: ${[...schemas].join(', ')}).`);
      if (entities.findIndex((x) => x.entity === e.entity) !== k)
        throw new ConfigError(`topology ${where}.entity "${e.entity}" is declared twice for source ${s.name}.`);
      const undecided = undecidedFreeForm(loadSchema(e.entity).schema)[0];
      if (undecided)
        throw new ConfigError(
          `contract ${e.entity} field ${undecided} is free-form and says nothing about personal data: mark it "c360.pii": "free_text" (sealed under the person's key) or "none" (nothing personal can be in it).`,
        );
      e.quality.forEach((q, j) => {
        const rule = RULES.require(q.rule, `topology ${where}.quality.${j}.rule`);
        q.options = validateOptions(rule.options, q.options, `topology ${where}.quality.${j}.options for rule ${q.rule}`);
        if (rule.checksAbsent && q.field.includes('[]'))
          throw new ConfigError(
            `topology ${where}.quality.${j}: rule ${q.rule} checks a field that may be absent, so it needs a path without [] (got ${q.field}).`,
          );
      });
    });
  });
  return topology;
}

/**
 * A topology lists registered stages once each, in the registered order, and every envelope field
 * a stage reads is written by a stage before it (StageSpec.reads); an empty list is a passthrough
 * (benchmarks) that copies bytes. Anything else would let records reach raw unchecked, or check
 * them in an order the stages do not expect.
 */
function checkStages(stages: string[]): void {
  const order = STAGES.names();
  const written = new Map<string, string>();
  stages.forEach((name, i) => {
    const spec = STAGES.require(name, `topology stages.${i}`);
    if (stages.indexOf(name) !== i) throw new ConfigError(`topology stages.${i} "${name}" is listed twice.`);
    const previous = stages[i - 1];
    if (previous !== undefined && order.indexOf(previous) > order.indexOf(name)) {
      throw new ConfigError(`topology stages.${i} "${name}" must come before "${previous}" (the order is ${order.join(', ')}).`);
    }
    const missing = spec.reads.find((f) => !written.has(f) && !spec.writes.includes(f));
    if (missing) {
      const writer = STAGES.all().find((s) => s.writes.includes(missing))!;
      throw new ConfigError(`topology stages.${i} "${name}" reads the record's ${missing}, which no stage before it writes ("${writer.name}" does).`);
    }
    for (const f of spec.writes) if (!written.has(f)) written.set(f, name);
  });
}
