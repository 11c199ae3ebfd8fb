/**
 * Settings, options and topologies are validated by their zod schemas in one way: the first
 * problem becomes one ConfigError sentence, built by the caller from the problem's path (dotted,
 * empty at the root) and zod's message.
 */
import type { z } from 'zod';
import { ConfigError } from './errors.js';

export function validated<S extends z.ZodType>(
  schema: S,
  input: unknown,
  sentence: (path: string, message: string, issue: z.core.$ZodIssue) => string,
): z.output<S> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  throw new ConfigError(`${sentence(issue.path.join('.'), issue.message.replace(/^Invalid input: /, ''), issue)}.`);
}
