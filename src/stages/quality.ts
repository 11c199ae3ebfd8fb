/**
 * Stage 2: field quality. Each source's checks (topologies/) run on every record; a failed check
 * at severity `error` dead-letters the record with all its errors, at `warn` it passes flagged.
 * Checks may normalise the value they check (lower-cased email domain, E.164 phone). A source with
 * a tracking plan has its events checked against it too: quarantined or flagged, as the plan says.
 */
import type { RecordErrorCode, RecordErrorEntry } from '../contracts/errors.js';
import { forEachAt, type PathSegment, pathSegments, readPath } from '../schema/field-path.js';
import { loadTrackingPlan, PLAN_PROPERTIES, type TrackingPlan } from '../schema/tracking-plan.js';
import { reject } from './envelope.js';
import type { RuleCheck, RuleContext } from './quality/rule.js';
import { RULES } from './quality/rules/index.js';
import { defineStage } from './stage.js';

interface CompiledCheck {
  segments: PathSegment[];
  /** Also run when the field is absent or null (not_null): then at its fixed path. */
  absent: boolean;
  /** The field's path when no segment fans out over an array, known before any record is seen. */
  fixedPath: string | undefined;
  check: RuleCheck;
  severity: 'error' | 'warn';
}

/** One record's findings; reused across a batch so checking a clean record allocates nothing. */
interface Findings {
  ctx: RuleContext;
  errors: RecordErrorEntry[];
  flags: RecordErrorCode[];
}

function apply(c: CompiledCheck, parent: Record<string, unknown> | unknown[], key: string | number, path: string, found: Findings): void {
  const container = parent as Record<string | number, unknown>;
  const outcome = c.check(container[key], found.ctx);
  if (outcome.ok) {
    if (outcome.value !== undefined) container[key] = outcome.value;
    return;
  }
  if ('replace' in outcome) container[key] = outcome.replace;
  if ((outcome.severity ?? c.severity) === 'error') found.errors.push({ code: outcome.code, field: path, message: outcome.message });
  else found.flags.push(outcome.code);
}

/** What a rule that checks absent fields is handed for one (a parent with nothing in it: nothing is written back into the record). */
const ABSENT: Record<string, unknown> = {};
const isAbsent = (v: unknown) => v === undefined || v === null;

export const qualityStage = defineStage({
  name: 'quality',
  description:
    "Runs each entity's field-quality checks and its source's tracking plan; a failed check at severity error (or a plan in quarantine mode) dead-letters the record with all its errors, at warn (or a plan in flag mode) it passes flagged, with the properties its plan lands typed. Checks may normalise the value they check.",
  reads: ['entity', 'value'],
  writes: ['value', 'flags'],
  create: (ctx) => {
    const checks = new Map<string, CompiledCheck[]>();
    // A source's tracking plan is for its primary entity, the one its events are.
    const plans = new Map<string, TrackingPlan>();
    for (const [id, entity] of ctx.entities) if (entity.primary && entity.definition.plan) plans.set(id, loadTrackingPlan(entity.definition.plan));
    for (const [id, source] of ctx.entities) {
      checks.set(
        id,
        source.definition.quality.map((q) => ({
          segments: pathSegments(q.field),
          absent: RULES.get(q.rule)!.checksAbsent === true,
          fixedPath: q.field.includes('[]') ? undefined : q.field,
          check: RULES.get(q.rule)!.create(q.options),
          severity: q.severity,
        })),
      );
    }

    return {
      process(batch) {
        const found: Findings = { ctx: { record: {}, now: ctx.now() }, errors: [], flags: [] };
        for (const e of batch) {
          if (e.outcome !== 'pending' || !e.value) continue;
          found.ctx.record = e.value;
          for (const c of checks.get(e.entity.id) ?? []) {
            if (c.absent && isAbsent(readPath(e.value, c.fixedPath!))) apply(c, ABSENT, 'value', c.fixedPath!, found);
            else forEachAt(e.value, c.segments, (parent, key, path) => apply(c, parent, key, path, found), c.fixedPath);
          }
          const plan = plans.get(e.entity.id);
          const verdict = plan?.check(e.value);
          if (plan?.mode === 'quarantine') found.errors.push(...verdict!.violations);
          else for (const v of verdict?.violations ?? []) found.flags.push(v.code);
          if (found.errors.length > 0) {
            reject(e, 'quality', found.errors);
            found.errors = [];
          } else {
            if (found.flags.length > 0) e.flags.push(...found.flags);
            // Written with the raw schema only (the entity's encrypted one); the contract's type leaves it out.
            if (verdict?.landed) e.value[PLAN_PROPERTIES] = verdict.landed;
          }
          found.flags.length = 0;
        }
      },
    };
  },
});
