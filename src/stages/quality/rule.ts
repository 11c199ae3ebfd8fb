/** What a field-quality rule is: a name, its options' schema, and a check built from validated options. */
import type { z } from 'zod';
import type { RecordErrorCode } from '../../contracts/errors.js';
import type { ComponentSpec } from '../../registry.js';

export interface RuleContext {
  /** The whole record, for rules that read a sibling field (a phone's country, a region's country). */
  record: Record<string, unknown>;
  now: number;
}

export type RuleOutcome =
  | { ok: true /** a normalised value to store in place of the original */; value?: unknown }
  | {
      ok: false;
      code: RecordErrorCode;
      message: string;
      /** Overrides the configured severity: an opted-out advertising id is only ever a warning. */
      severity?: 'warn';
      /** Replaces the value even though the check failed (an opted-out id becomes null). */
      replace?: unknown;
    };

export type RuleCheck = (value: unknown, ctx: RuleContext) => RuleOutcome;

export interface QualityRule<Options extends z.ZodType = z.ZodType> extends ComponentSpec {
  options: Options;
  /** Checked when the field is absent or null too (not_null); on a field path without [] only. */
  checksAbsent?: boolean;
  create(options: z.infer<Options>): RuleCheck;
}

export function defineRule<Options extends z.ZodType>(rule: QualityRule<Options>): QualityRule<Options> {
  return rule;
}

export const OK: RuleOutcome = { ok: true };

export function fail(code: RecordErrorCode, message: string): RuleOutcome {
  return { ok: false, code, message };
}
