/**
 * One error hierarchy for the whole project (in the manner of kafkajs' KafkaJSError):
 * every error carries a taxonomy code, and whether retrying the same operation may succeed.
 * Record-level failures (decode.*, schema.*, quality.*, size.*) extend RecordError so the
 * router can put them on the dead-letter topic with their field path.
 */
export class C360Error extends Error {
  readonly code: string;
  readonly retriable: boolean;

  constructor(code: string, message: string, options: { retriable?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retriable = options.retriable ?? false;
  }
}

/** Bad configuration: one sentence naming the setting and what is wrong with it. */
export class ConfigError extends C360Error {
  constructor(message: string) {
    super('config.invalid', message);
  }
}

/** Something the local stack needs is not installed or cannot be fetched. */
export class PrerequisiteError extends C360Error {
  constructor(message: string) {
    super('stack.prerequisite_missing', message);
  }
}

/** A part of the local stack did not start or did not become ready in time. */
export class StackError extends C360Error {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('stack.failed', message, { retriable: true, ...options });
  }
}

/** A dependency (Kafka, the registry, Redis) is unreachable right now; the caller should back off and retry. */
export class DependencyUnavailableError extends C360Error {
  constructor(dependency: string, message: string, options: { cause?: unknown } = {}) {
    super(`dependency.${dependency}_unavailable`, message, { retriable: true, ...options });
  }
}

export function isRetriable(error: unknown): boolean {
  if (error instanceof C360Error) return error.retriable;
  // kafkajs marks its own errors with the same flag.
  return typeof error === 'object' && error !== null && (error as { retriable?: unknown }).retriable === true;
}

export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
