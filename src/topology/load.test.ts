import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../contracts/errors.js';
import type { TopologyInput } from '../contracts/topology-definition.js';
import { loadTopology, validateTopology } from './load.js';

const source = { name: 'crm', entity: 'CustomerProfile', key: 'customer_id' };
const topology = (patch: Partial<TopologyInput> = {}): TopologyInput => ({ name: 't', sources: [source], ...patch });
const refused = (input: unknown) => {
  try {
    validateTopology(input);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('the topology was accepted');
};

describe('topology validation', () => {
  it('loads the bundled topology with every stage in order', async () => {
    const t = await loadTopology('customer360');
    expect(t.stages).toEqual(['decode', 'quality', 'suppress', 'dedup', 'near_duplicates', 'encrypt']);
    expect(t.sources.map((s) => s.name)).toEqual(['crm', 'web', 'marketing', 'commerce', 'support', 'enrichment']);
  });

  it.each([[['decode']], [['decode', 'quality']], [['decode', 'dedup', 'near_duplicates']], [[]]])('accepts the stages %j', (stages) => {
    expect(validateTopology(topology({ stages })).stages).toEqual(stages);
  });

  it.each([
    [['quality'], 'topology stages.0 "quality" reads the record\'s entity, which no stage before it writes ("decode" does).'],
    [['dedup', 'decode'], 'topology stages.0 "dedup" reads the record\'s entity, which no stage before it writes ("decode" does).'],
    [
      ['decode', 'dedup', 'quality'],
      'topology stages.2 "quality" must come before "dedup" (the order is decode, quality, suppress, dedup, near_duplicates, encrypt).',
    ],
    [
      ['decode', 'near_duplicates', 'quality'],
      'topology stages.2 "quality" must come before "near_duplicates" (the order is decode, quality, suppress, dedup, near_duplicates, encrypt).',
    ],
    [['decode', 'decode'], 'topology stages.1 "decode" is listed twice.'],
    [['decode', 'enrich'], 'topology stages.1 "enrich" is not a known stage (known: decode, quality, suppress, dedup, near_duplicates, encrypt).'],
  ])('refuses the stages %j', (stages, message) => {
    expect(refused(topology({ stages }))).toBe(message);
  });

  it.each([
    ['a source declared twice', { sources: [source, source] }, 'topology sources.1.name "crm" is declared twice.'],
    [
      'an entity without a schema',
      { sources: [{ ...source, entity: 'Nope' }] },
      /^topology sources\.0\.entity "Nope" has no schema in avro\/ \(known: .*CustomerProfile/,
    ],
    [
      'an unknown rule',
      { sources: [{ ...source, quality: [{ field: 'email', rule: 'shoe_size' }] }] },
      /^topology sources\.0\.quality\.0\.rule "shoe_size" is not a known quality rule \(known: email, phone/,
    ],
    [
      'bad rule options',
      { sources: [{ ...source, quality: [{ field: 'phone', rule: 'phone', options: { countryField: 3 } }] }] },
      /^topology sources\.0\.quality\.0\.options for rule phone\.countryField: /,
    ],
    [
      'a not_null rule on a list of fields',
      { sources: [{ ...source, quality: [{ field: 'consents[].channel', rule: 'not_null' }] }] },
      'topology sources.0.quality.0: rule not_null checks a field that may be absent, so it needs a path without [] (got consents[].channel).',
    ],
    [
      'a pattern that could take exponential time',
      { sources: [{ ...source, quality: [{ field: 'email', rule: 'pattern', options: { regex: '^([a-z]+)*@' } }] }] },
      /^topology sources\.0\.quality\.0\.options for rule pattern\.regex: nests a quantifier inside a quantified group/,
    ],
    [
      'a reference list that is not there',
      { sources: [{ ...source, quality: [{ field: 'customer_id', rule: 'reference_list', options: { file: '/nonexistent/ids.txt' } }] }] },
      'topology sources.0.quality.0.options for rule reference_list.file: is not a readable file.',
    ],
    ['an unknown setting', { colour: 'blue' }, /^topology \(root\) Unrecognized key: "colour"/],
    ['a bad field path', { sources: [{ ...source, key: 'customer id' }] }, /^topology sources\.0\.key must be a dotted field path/],
    ['an upper-case source name', { sources: [{ ...source, name: 'CRM' }] }, /^topology sources\.0\.name must be lower-case letters, digits and dashes/],
    ['a threshold over 1', { matching: { threshold: 1.5 } }, /^topology matching\.threshold Too big: expected number to be <=1/],
    [
      'a model whose m and u differ in length',
      { matching: { model: { prior: 0.1, comparisons: { email: { m: [0.6, 0.4], u: [0.1, 0.2, 0.7] } } } } },
      'topology matching.model.comparisons.email must have as many m as u probabilities.',
    ],
    [
      'a probability of 0 in a model',
      { matching: { model: { prior: 0.1, comparisons: { email: { m: [1, 0], u: [0.1, 0.9] } } } } },
      /^topology matching\.model\.comparisons\.email\.m\.0 Too big: expected number to be <1/,
    ],
    [
      'an unknown blocking key',
      { sources: [{ ...source, nearDuplicates: { identityField: 'customer_id', blocking: ['shoe_size'] } }] },
      /^topology sources\.0\.nearDuplicates\.blocking\.0 .*"email"\|"phone"\|"device_id"\|"name_postal"\|"name_birth"/,
    ],
  ])('refuses %s with one sentence', (_what, patch, message) => {
    expect(refused(topology(patch as Partial<TopologyInput>))).toMatch(message);
  });

  it('refuses a match model that does not fit the comparisons it scores, which would score every pair NaN', () => {
    const model = (comparisons: Record<string, unknown>) => topology({ matching: { model: { prior: 0.01, comparisons } } } as Partial<TopologyInput>);
    expect(refused(model({ first_name: { m: [0.9, 0.1], u: [0.1, 0.9] } }))).toBe(
      'topology matching.model.comparisons.first_name must have 5 m and u probabilities, one per level (exact, jaro_winkler_0.92, jaro_winkler_0.80, same_sound, else).',
    );
    expect(refused(model({ shoe_size: { m: [0.9, 0.1], u: [0.1, 0.9] } }))).toMatch(
      /^topology matching\.model\.comparisons\.shoe_size is not a comparison \(known: first_name, /,
    );
    expect(validateTopology(model({ loyalty_id: { m: [0.9, 0.1], u: [0.1, 0.9] } })).matching.model?.comparisons.loyalty_id?.m).toEqual([0.9, 0.1]);
  });

  it('names a topology it cannot find', async () => {
    await expect(loadTopology('nowhere')).rejects.toThrow(/^topology "nowhere" was not found \(looked for .*nowhere\.ts\)\.$/);
  });
});

describe('tracking plans at start-up', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'c360-plans-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const withPlan = (name: string, content: string | undefined) => {
    const file = path.join(dir, name);
    if (content !== undefined) fs.writeFileSync(file, content);
    return refused(topology({ sources: [{ ...source, name: 'web', entity: 'BehavioralEvent', key: 'event_id', plan: file }] }));
  };

  it('loads the example plan shipped in plans/', () => {
    const t = validateTopology(topology({ sources: [{ ...source, name: 'web', entity: 'BehavioralEvent', key: 'event_id', plan: 'plans/web.json' }] }));
    expect(t.sources[0]!.plan).toBe('plans/web.json');
  });

  it('refuses a plan it cannot use, naming the file and the mistake', () => {
    expect(withPlan('missing.json', undefined)).toBe(`tracking plan ${path.join(dir, 'missing.json')} cannot be read.`);
    expect(withPlan('broken.json', '{"mode": ')).toMatch(/^tracking plan .*broken\.json is not JSON: /);
    expect(withPlan('mode.json', JSON.stringify({ mode: 'block', events: {} }))).toMatch(/^tracking plan .*mode\.json mode .*"quarantine"\|"flag"/);
    expect(withPlan('extra.json', JSON.stringify({ mode: 'flag', events: {}, strict: true }))).toMatch(
      /^tracking plan .*extra\.json \(root\) Unrecognized key: "strict"/,
    );
    expect(withPlan('schema.json', JSON.stringify({ mode: 'flag', events: { 'Order Completed': { properties: { total: { type: 'money' } } } } }))).toMatch(
      /^tracking plan .*schema\.json event "Order Completed" is not a valid JSON Schema: /,
    );
    const landed = (type: string) => ({ properties: { gift: { type, 'c360.pii': 'none' } } });
    expect(withPlan('clash.json', JSON.stringify({ mode: 'flag', events: { 'Order Completed': landed('boolean'), Refund: landed('number') } }))).toBe(
      `tracking plan ${path.join(dir, 'clash.json')} types property "gift" as boolean in one event and number in "Refund": one column cannot hold both.`,
    );
  });
});
