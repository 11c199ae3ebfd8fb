/**
 * Stage 2: field quality. Each source's checks (topologies/) run on every record; a failed check
 * at severity `error` dead-letters the record with all its errors, at `warn` it passes flagged.
 * Checks may normalise the value they check (lower-cased email domain, E.164 phone).
 */
import type { RecordErrorCode, RecordErrorEntry } from '../errors.js';
import { reject } from '../topology/envelope.js';
import type { RuleCheck, RuleContext } from './quality/rule.js';
import { RULES } from './quality/rules/index.js';
import type { StageFactory } from './stage.js';

interface CompiledCheck {
  segments: { key: string; each: boolean }[];
  check: RuleCheck;
  severity: 'error' | 'warn';
}

type Visit = (value: unknown, set: (v: unknown) => void, path: string) => void;

/** Calls `visit` for each value at the path; `[]` segments fan out over arrays. Absent and null values are skipped. */
function visitPath(node: unknown, segments: CompiledCheck['segments'], i: number, path: string, visit: Visit): void {
  if (typeof node !== 'object' || node === null) return;
  const seg = segments[i]!;
  const obj = node as Record<string, unknown>;
  const here = path ? `${path}.${seg.key}` : seg.key;
  const child = obj[seg.key];
  if (child === undefined || child === null) return;
  const last = i === segments.length - 1;
  if (seg.each) {
    if (!Array.isArray(child)) return;
    child.forEach((item, j) => {
      if (last) {
        if (item !== null && item !== undefined) visit(item, (v) => void (child[j] = v), `${here}[${j}]`);
      } else visitPath(item, segments, i + 1, `${here}[${j}]`, visit);
    });
  } else if (last) {
    visit(child, (v) => void (obj[seg.key] = v), here);
  } else {
    visitPath(child, segments, i + 1, here, visit);
  }
}

export const qualityStage: StageFactory = (ctx) => {
  const checks = new Map<string, CompiledCheck[]>();
  for (const [id, source] of ctx.sources) {
    checks.set(
      id,
      source.definition.quality.map((q) => ({
        segments: q.field.split('.').map((s) => ({ key: s.replace(/\[\]$/, ''), each: s.endsWith('[]') })),
        check: RULES.get(q.rule)!.create(q.options),
        severity: q.severity,
      })),
    );
  }

  return {
    name: 'quality',
    process(batch) {
      const now = ctx.now();
      for (const e of batch) {
        if (e.outcome !== 'pending' || !e.value) continue;
        const ruleCtx: RuleContext = { record: e.value, now };
        const errors: RecordErrorEntry[] = [];
        const flags: RecordErrorCode[] = [];
        for (const c of checks.get(e.source.id) ?? []) {
          visitPath(e.value, c.segments, 0, '', (value, set, path) => {
            const outcome = c.check(value, ruleCtx);
            if (outcome.ok) {
              if (outcome.value !== undefined) set(outcome.value);
              return;
            }
            if ('replace' in outcome) set(outcome.replace);
            if ((outcome.severity ?? c.severity) === 'error') errors.push({ code: outcome.code, field: path, message: outcome.message });
            else flags.push(outcome.code);
          });
        }
        if (errors.length > 0) reject(e, 'quality', errors);
        else e.flags.push(...flags);
      }
    },
  };
};
