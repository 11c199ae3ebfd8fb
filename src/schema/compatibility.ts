/**
 * Schema evolution checked before it reaches producers: a subject's compatibility level set, and a
 * new schema tested against the subject's latest version by the registry itself. When the registry
 * says no, the reason is worked out locally (avsc resolving one schema from the other), since the
 * registry's own answer carries none.
 */
import type { Config } from '../config.js';
import type { CompatibilityLevel } from '../contracts/compatibility.js';
import { DependencyUnavailableError, describeError, httpError } from '../contracts/errors.js';
import { parseType } from './avro.js';
import { registryAuthHeaders } from './registry.js';

export interface SubjectCheck {
  subject: string;
  outcome: 'new' | 'compatible' | 'incompatible';
  /** Why not, when incompatible. */
  reason?: string;
}

async function call(config: Config, method: string, path: string, body?: unknown): Promise<Response> {
  const { url } = config.schemaRegistry;
  const headers = { 'content-type': 'application/vnd.schemaregistry.v1+json', ...registryAuthHeaders(config.schemaRegistry) };
  try {
    return await fetch(`${url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
  } catch (err) {
    throw new DependencyUnavailableError('registry', `schema registry unreachable: ${describeError(err)}`, { cause: err });
  }
}

/** Sets the subject's compatibility level (the registry then refuses any registration that breaks it). */
export async function setCompatibility(config: Config, subject: string, level: CompatibilityLevel): Promise<void> {
  const res = await call(config, 'PUT', `/config/${encodeURIComponent(subject)}`, { compatibility: level });
  if (!res.ok) throw httpError('registry', `schema registry (compatibility of ${subject})`, res.status);
}

/** Whether `schema` may be registered under `subject` as its level says, without registering it. */
export async function checkCompatibility(config: Config, subject: string, schema: Record<string, unknown>, level: CompatibilityLevel): Promise<SubjectCheck> {
  const latest = await call(config, 'GET', `/subjects/${encodeURIComponent(subject)}/versions/latest`);
  if (latest.status === 404) return { subject, outcome: 'new' };
  if (!latest.ok) throw httpError('registry', `schema registry (latest version of ${subject})`, latest.status);
  const previous = JSON.parse(((await latest.json()) as { schema: string }).schema) as Record<string, unknown>;
  const res = await call(config, 'POST', `/compatibility/subjects/${encodeURIComponent(subject)}/versions/latest`, { schema: JSON.stringify(schema) });
  if (!res.ok) throw httpError('registry', `schema registry (compatibility check of ${subject})`, res.status);
  if (((await res.json()) as { is_compatible: boolean }).is_compatible) return { subject, outcome: 'compatible' };
  return { subject, outcome: 'incompatible', reason: whyIncompatible(schema, previous, level) };
}

/** The first reason avsc gives for not resolving: new data read by the old schema (FORWARD), old data by the new one (BACKWARD), or either (FULL). */
function whyIncompatible(next: Record<string, unknown>, previous: Record<string, unknown>, level: CompatibilityLevel): string {
  const [nextType, previousType] = [parseType(next), parseType(previous)];
  const directions: Array<[string, () => unknown]> = [];
  if (!level.startsWith('FORWARD'))
    directions.push(['the new schema cannot read data written with the latest version', () => nextType.createResolver(previousType)]);
  if (!level.startsWith('BACKWARD'))
    directions.push(['the latest version cannot read data written with the new schema', () => previousType.createResolver(nextType)]);
  for (const [what, resolve] of directions) {
    try {
      resolve();
    } catch (err) {
      return `${what}: ${describeError(err).split('\n')[0]}`;
    }
  }
  return `the registry finds it not ${level}-compatible with the latest version`;
}
