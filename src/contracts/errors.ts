/**
 * One error hierarchy for the whole project (in the manner of kafkajs' KafkaJSError):
 * every error carries a code, and whether retrying the same operation may succeed. Errors are
 * classified once, where each client is called (KafkaJS's own classes, Redis, S3 and HTTP by
 * status); src/retry.ts retries what is retriable and nothing else. Record-level failures are
 * not thrown: they are entries (RECORD_ERROR_CODES) on the record's dead letter.
 */
import kafkajs from 'kafkajs';

// KafkaJS is CommonJS and spreads its error classes into its exports, which Node's named imports cannot see.
const { KafkaJSError, KafkaJSProtocolError } = kafkajs;

export class C360Error extends Error {
  readonly code: string;
  readonly retriable: boolean;
  /** How long the dependency asked to be left alone (an HTTP Retry-After), when it said. */
  readonly retryAfterMs: number | undefined;

  constructor(code: string, message: string, options: { retriable?: boolean; cause?: unknown; retryAfterMs?: number } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retriable = options.retriable ?? false;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** Bad configuration: one sentence naming the setting and what is wrong with it. */
export class ConfigError extends C360Error {
  constructor(message: string) {
    super('config.invalid', message);
  }
}

/**
 * A server that cannot listen where it was told (a port in use, an address not of this host, a
 * host name that does not resolve): the setting to change, in one sentence.
 */
export function listenFailure(what: string, host: string, port: number, settings: string, err: unknown): ConfigError {
  const code = String((err as { code?: unknown } | null)?.code ?? '');
  const why =
    code === 'EADDRINUSE'
      ? 'the port is in use'
      : code === 'EADDRNOTAVAIL'
        ? 'the address is not one of this host'
        : code === 'EACCES'
          ? 'the port needs privileges this process does not have'
          : code === 'ENOTFOUND' || code === 'EAI_AGAIN'
            ? 'the host name does not resolve'
            : describeError(err);
  return new ConfigError(`${what} cannot listen on ${host}:${port}: ${why}${code ? ` (${code})` : ''}; check ${settings}.`);
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

/** A file that cannot be read as its format at all (corrupt gzip, not Parquet): the whole file is rejected, not retried. */
export class UnreadableFileError extends C360Error {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('extract.unreadable_file', message, { retriable: false, ...options });
  }
}

/** A vendor API that hands back a cursor, link or page it already gave in this sync: following it would loop for ever. */
export class ConnectorLoopError extends C360Error {
  constructor(message: string) {
    super('connector.page_repeated', message, { retriable: false });
  }
}

/** What c360 depends on at run time, as error codes name it. */
const DEPENDENCIES = ['kafka', 'registry', 'redis', 'object-store', 'catalog', 'connector', 'key-store', 'disk'] as const;
export type Dependency = (typeof DEPENDENCIES)[number];

/** A dependency (Kafka, the registry, Redis, object storage, a vendor API) is unreachable or busy right now; the caller should back off and retry. */
export class DependencyUnavailableError extends C360Error {
  constructor(
    readonly dependency: Dependency,
    message: string,
    options: { cause?: unknown; retryAfterMs?: number } = {},
  ) {
    super(`dependency.${dependency}_unavailable`, message, { retriable: true, ...options });
  }
}

/**
 * A dependency answered, and asking again will not change the answer (403 access denied, 404 not
 * found, a request it cannot parse): retrying would only hide it, so it fails fast with one sentence.
 */
export class DependencyRefusedError extends C360Error {
  constructor(
    readonly dependency: Dependency,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(`dependency.${dependency}_refused`, message, { retriable: false, ...options });
  }
}

/** A schema change its subject's compatibility level forbids: `c360 schemas check` and `register` refuse it, naming the subject and why. */
export class IncompatibleSchemaError extends C360Error {
  constructor(message: string) {
    super('schema.incompatible', message);
  }
}

/** A writer schema the raw layer cannot store: a contract problem, neither a setting nor an outage. */
export class SchemaError extends C360Error {
  constructor(message: string) {
    super('schema.unsupported', message);
  }
}

/**
 * What a dependency's failure is, wherever it arises: unreachable or busy (retried with backoff), or
 * refusing (a permission, a login, a missing bucket: fails a one-shot command at once). A worker
 * pauses on both while it runs, since neither is the fault of the records it holds.
 */
export function isDependencyFailure(error: unknown): error is DependencyUnavailableError | DependencyRefusedError {
  return error instanceof DependencyUnavailableError || error instanceof DependencyRefusedError;
}

/** Filesystem errors that pass: the disk fills and empties, a file table frees up, a network mount comes back. */
const PASSING_ERRNOS = new Set(['ENOSPC', 'EDQUOT', 'EIO', 'EMFILE', 'ENFILE', 'ENOMEM', 'EAGAIN', 'EBUSY', 'ETIMEDOUT', 'ESTALE', 'EINTR']);

/**
 * A filesystem call's failure (`what`: the operation and its path, no record's value) as the
 * dependency's: a full or failing disk is unavailable, a permission or a read-only mount refuses.
 * Undefined for an error that is not the filesystem's (no errno code).
 */
export function fileSystemFailure(dependency: Dependency, what: string, err: unknown): C360Error | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !/^E[A-Z]+$/.test(code)) return undefined;
  const message = `${what} failed: ${describeError(err)}`;
  return PASSING_ERRNOS.has(code)
    ? new DependencyUnavailableError(dependency, message, { cause: err })
    : new DependencyRefusedError(dependency, message, { cause: err });
}

/** Runs a filesystem call, its failure classified as the dependency's (fileSystemFailure). */
export function onDisk<T>(dependency: Dependency, what: string, run: () => T): T {
  try {
    return run();
  } catch (err) {
    throw fileSystemFailure(dependency, what, err) ?? err;
  }
}

/** Whether asking again may change an HTTP answer: timeouts, throttling and server errors may; other 4xx will not. */
export function isRetriableStatus(status: number): boolean {
  return status === 408 || status === 425 || status === 429 || status >= 500;
}

/** The settings that carry a dependency's credentials, named when it answers 401 or 403. */
const CREDENTIAL_SETTINGS: Partial<Record<Dependency, string>> = {
  registry: 'SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD',
  catalog: 'C360_CATALOG_TOKEN or C360_CATALOG_CREDENTIAL',
};

/** An HTTP failure of a dependency as one sentence, retriable or not by its status; a Retry-After in seconds is kept. */
export function httpError(
  dependency: Dependency,
  what: string,
  status: number,
  options: { detail?: string; retryAfter?: string | null; cause?: unknown } = {},
): C360Error {
  const message = `${what} answered ${status}${options.detail ? ` (${options.detail})` : ''}`;
  const credentials = status === 401 || status === 403 ? CREDENTIAL_SETTINGS[dependency] : undefined;
  if (!isRetriableStatus(status))
    return new DependencyRefusedError(dependency, `${message}; not retried${credentials ? `: check ${credentials}` : ''}`, { cause: options.cause });
  const seconds = Number(options.retryAfter);
  return new DependencyUnavailableError(dependency, message, {
    cause: options.cause,
    ...(options.retryAfter && Number.isFinite(seconds) && seconds >= 0 ? { retryAfterMs: seconds * 1000 } : {}),
  });
}

/**
 * A KafkaJS failure that reached a command, as one sentence naming the settings to check: a TLS
 * handshake the broker refused (a certificate it does not trust, or none where it requires one), a
 * SASL login it refused, or any other Kafka error by its first line. Undefined for other errors.
 */
export function kafkaFailureSentence(error: unknown): string | undefined {
  if (!(error instanceof KafkaJSError)) return undefined;
  const text = `${error.message} ${describeError((error as { cause?: unknown }).cause ?? '')}`;
  if (error.name === 'KafkaJSSASLAuthenticationError') {
    const first = error.message.split('\n')[0]!;
    // The OIDC token endpoint's refusal names its own settings; a broker's refusal names the mechanism's.
    if (first.startsWith('the OIDC token endpoint')) return `${first}.`;
    const settings = /OAUTHBEARER/.test(first)
      ? 'KAFKA_SASL_MECHANISM and the KAFKA_SASL_OAUTHBEARER_* settings (or, for aws-msk-iam, AWS_REGION and the AWS credentials)'
      : 'KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD';
    return `Kafka refused the SASL login (${first}): check ${settings}.`;
  }
  const alert = /(?:ssl\/tls alert [a-z ]+|unable to [a-z ]*certificate|certificate[a-z ]*|self[- ]signed[a-z ]*|wrong version number|handshake[a-z ]*)/i.exec(
    text,
  );
  if (alert)
    return `the TLS handshake with Kafka failed (${alert[0].trim()}): check KAFKA_SSL, KAFKA_SSL_CA_FILE, and for mutual TLS KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE.`;
  return `Kafka: ${error.message.split('\n')[0]}.`;
}

/**
 * A Kafka failure that another attempt from committed state may get past — a broker down, a
 * leader election that outlasted KafkaJS's own retries (which then reports it as not retriable), a
 * read that did not reach the end in time — as opposed to a refused login.
 */
export function isKafkaOutage(error: unknown): boolean {
  if (error instanceof DependencyUnavailableError) return error.dependency === 'kafka';
  return error instanceof KafkaJSError && error.name !== 'KafkaJSSASLAuthenticationError' && !refusedHandshake(error);
}

/** An error and its causes, outermost first, to a depth no real chain reaches. */
function* causes(error: unknown): Generator<Error> {
  for (let e = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) yield e;
}

/**
 * A TLS handshake either side refused (a certificate not trusted, none where one is required), at
 * any depth of causes: the patched KafkaJS marks that connection error, alone of its kind, not
 * retriable (patches/kafkajs+2.2.4.patch), since every attempt fails the same way.
 */
function refusedHandshake(error: unknown): boolean {
  for (const e of causes(error)) if (e instanceof KafkaJSError && e.name === 'KafkaJSConnectionError' && !e.retriable) return true;
  return false;
}

const FENCING = new Set(['PRODUCER_FENCED', 'INVALID_PRODUCER_EPOCH']);

/**
 * A transactional producer that a newer one with its id has fenced, or whose epoch the coordinator
 * bumped when it aborted a transaction that outlasted its timeout. Fencing only: a transactional id
 * the ACLs refuse (TRANSACTIONAL_ID_AUTHORIZATION_FAILED) stays a failure.
 */
export function isFenced(error: unknown): boolean {
  for (const e of causes(error)) if (e instanceof KafkaJSProtocolError && FENCING.has(e.type)) return true;
  return false;
}

export function isRetriable(error: unknown): boolean {
  if (error instanceof C360Error) return error.retriable;
  // KafkaJS marks its own errors (KafkaJSError and its subclasses) with the same flag.
  return error instanceof KafkaJSError && error.retriable;
}

/**
 * The codes of failures a process reports (and exits or retries on), as opposed to the record
 * codes below that a dead letter carries. `c360` exits 2 on config.invalid, 1 on the others.
 */
export const PROCESS_ERROR_CODES: Readonly<Record<string, { retriable: boolean; meaning: string }>> = {
  'config.invalid': { retriable: false, meaning: 'a setting, flag, topology or settings file is wrong; the message names it' },
  'schema.unsupported': {
    retriable: false,
    meaning: 'a writer schema the raw layer cannot store (a union it cannot map, a field named like a lineage column)',
  },
  'schema.incompatible': {
    retriable: false,
    meaning: "a schema of the topology breaks its subject's compatibility level against the registered latest version; the message names the subject and why",
  },
  'extract.unreadable_file': {
    retriable: false,
    meaning: 'a file that cannot be read as its format at all (corrupt gzip, not Parquet); the landing zone rejects it',
  },
  'connector.page_repeated': {
    retriable: false,
    meaning: 'a vendor API handed back a cursor, link or page it had already given in this sync (or the same page again): following it would loop for ever',
  },
  'stack.prerequisite_missing': { retriable: false, meaning: 'the local stack needs Java, Maven or Redis and cannot find them' },
  'stack.failed': { retriable: true, meaning: 'a part of the local stack did not start or become ready in time' },
  ...Object.fromEntries(
    DEPENDENCIES.flatMap((d) => [
      [
        `dependency.${d}_unavailable`,
        {
          retriable: true,
          meaning: `${d} is ${d === 'disk' ? 'full or failing (ENOSPC, EIO, EMFILE)' : 'unreachable, busy or timed out (network errors, 408, 429, 5xx)'}; retried with backoff, a running worker waits`,
        },
      ],
      [
        `dependency.${d}_refused`,
        {
          retriable: false,
          meaning: `${d} refuses, and asking again will not change it until someone acts (${d === 'disk' ? 'EACCES, EROFS' : d === 'key-store' ? 'a login or privilege refused' : '403, 404, other 4xx, a reply error'}); a one-shot command fails at once, a running worker waits`,
        },
      ],
    ]),
  ),
};

/**
 * Whether an error may be the fault of the record being processed, and so isolate it: not an
 * outage (retriable), a dependency's refusal or a setting, which pause or stop the process and
 * must never dead-letter the records that happened to be in flight.
 */
export function mayBlameRecord(error: unknown): boolean {
  return !isRetriable(error) && !(error instanceof DependencyRefusedError) && !(error instanceof ConfigError);
}

/** An error's message; fetch's "fetch failed" with the network error that caused it (connect ECONNREFUSED …). */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as { cause?: unknown }).cause;
  return error.message === 'fetch failed' && cause instanceof Error ? `${error.message} (${cause.message})` : error.message;
}

/** An error's first line, without quoted text (libraries quote the value they choke on, which may be personal). */
export function safeMessage(err: unknown): string {
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return (text.split('\n', 1)[0] ?? '').replace(/"[^"]*"|'[^']*'/g, '"…"').slice(0, 200);
}

/**
 * The failure taxonomy of records: every code a record can be dead-lettered (or, at severity
 * warn, flagged) with. docs/contracts.md lists the same table; each code has a test that produces it.
 */
export const RECORD_ERROR_CODES = {
  'decode.malformed': 'the value is neither Confluent-framed Avro (magic byte 0) nor a JSON object',
  'decode.invalid_json': 'the value starts like JSON but does not parse',
  'decode.unknown_schema_id': 'the Avro schema id in the frame is not in the registry',
  'decode.truncated': 'the Avro body ends before the record does, or has bytes after it',
  'decode.incompatible_schema': "the writer's schema cannot be resolved against the entity's reader schema",
  'decode.unknown_entity': 'the c360.entity header names an entity the source does not carry',
  'decode.invalid_utf8': 'a JSON value, an Avro string or a map key is not valid UTF-8, or a JSON string holds a lone surrogate (never replaced by U+FFFD)',
  'decode.too_deep': 'JSON nested deeper than the 64 levels c360 reads (MAX_JSON_DEPTH)',
  'lineage.invalid':
    'a c360.* lineage header is not what the contract says: an empty ingest id, an origin that is not a JSON object, an unknown source kind, a received_at (or Kafka timestamp) before 2000 or over a day ahead',
  'schema.missing_required': 'a required field is absent or null',
  'schema.wrong_type': "a field's value is not of the schema's type",
  'schema.enum_not_allowed': 'an enum field holds a symbol the schema does not list',
  'schema.decimal_out_of_range': 'a decimal with more digits than its precision or more decimals than its scale: amounts are never rounded',
  'size.too_large': 'the record is larger than the configured limit',
  'stage.internal_error':
    'processing the record failed in a way retrying cannot fix (a bug, a value a library cannot handle); the record is isolated so its partition goes on',
  'quality.email_invalid': 'not an email address (RFC 5321 limits)',
  'quality.phone_invalid': 'not a valid phone number for its country',
  'quality.country_invalid': 'not an ISO 3166-1 alpha-2 country code',
  'quality.region_invalid': 'not an ISO 3166-2 subdivision, or not one of the record country',
  'quality.postal_code_invalid': 'not a valid postal code for the country',
  'quality.latitude_out_of_range': 'latitude outside -90..90',
  'quality.longitude_out_of_range': 'longitude outside -180..180',
  'quality.device_id_invalid': 'the device id does not match its kind (IMEI Luhn, UUID, 16 hex digits)',
  'quality.device_id_opt_out': 'an advertising id that is all zeros (the user opted out): the id is dropped',
  'quality.timestamp_invalid': 'a value the timestamp rule cannot read as a timestamp or date (the rule is on a field of another type)',
  'quality.timestamp_before_epoch': "a timestamp before 1970-01-01, or before the rule's notBefore",
  'quality.timestamp_in_future': 'a timestamp further in the future than the allowed clock skew',
  'quality.currency_invalid': 'not an ISO 4217 currency code',
  'quality.amount_negative': 'an amount below zero',
  // Declarative rules (stages/quality/rules/declarative.ts): written in the topology, no code.
  'quality.required_missing': 'a field the not_null rule requires is absent, null or blank',
  'quality.pattern_mismatch': 'a value that does not match the pattern rule its field has',
  'quality.not_allowed': 'a value that is not one of the one_of rule values its field allows',
  'quality.out_of_range': 'a number outside the range rule bounds of its field',
  'quality.length_out_of_range': 'a text or list shorter or longer than the length rule of its field allows',
  'quality.fields_disagree': 'two fields that break the compare rule between them (a start after its end, say)',
  'quality.not_in_reference': 'a value missing from the reference list its field is checked against',
  // Tracking plans (schema/tracking-plan.ts): an event that breaks its source's plan; dead-lettered, or landed flagged, as the plan's mode says.
  'plan.unplanned_event': 'an event whose name the tracking plan does not list',
  'plan.required_property_missing': 'a property the tracking plan requires for the event is missing',
  'plan.wrong_type': 'a property whose value is not of the type the tracking plan gives it',
  'plan.unexpected_property': 'a property the tracking plan does not list for the event (it allows no others)',
  'plan.invalid_value': 'a property whose value the tracking plan does not allow (an enum, pattern, format, range or length)',
  // Extraction (`c360 ingest`, `c360 watch`): a file row that cannot become a record. Dead-lettered with its file and row.
  'mapping.malformed_row': 'a CSV row that does not parse (quoting, column count) or an NDJSON line that is not a JSON object',
  'mapping.invalid_number': 'a numeric field whose cell is not a number of that kind',
  'mapping.invalid_boolean': 'a boolean field whose cell is not true/false, yes/no or 1/0',
  'mapping.invalid_date': 'a date field whose cell is not YYYY-MM-DD or the declared format',
  'mapping.invalid_timestamp': 'a timestamp field whose cell is not ISO 8601, epoch milliseconds or the declared format',
  'mapping.invalid_json': 'a list, map or record field whose cell is not JSON',
  'mapping.unknown_columns': 'not one column of the row names a field of the entity: a file without a header row, or with another entity’s columns',
} as const;

export type RecordErrorCode = keyof typeof RECORD_ERROR_CODES;

/** One reason a record was rejected or flagged: the entries of a dead-letter record's error list. */
export interface RecordErrorEntry {
  code: RecordErrorCode;
  /** Dotted path of the field (`address.country`, `line_items[2].unit_price`), or null for the whole record. */
  field: string | null;
  message: string;
}
