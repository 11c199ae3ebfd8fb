/** The Confluent-compatible schema registry (Apicurio's ccompat API locally, Confluent's in production). */
import { COMPATIBILITY, SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import type { Config } from '../config.js';
import type { CompatibilityLevel } from '../contracts/compatibility.js';
import { C360Error, DependencyUnavailableError, describeError, httpError, IncompatibleSchemaError } from '../contracts/errors.js';
import { retry } from '../retry.js';
import { type AvroType, parseType } from './avro.js';

export function createSchemaRegistry(config: Config): SchemaRegistry {
  const { url, auth } = config.schemaRegistry;
  return new SchemaRegistry({ host: url, ...(auth ? { auth } : {}) });
}

/**
 * A failure of the registry client (@kafkajs/confluent-schema-registry) as one sentence: the
 * network (which it reports as status 400) and 5xx are unavailable; a schema its subject's
 * compatibility forbids (409, incompatible) is incompatible; 401, 403 and other 4xx are refused,
 * naming the credentials where they are the cause. Workers starting together race to create a
 * subject and set its compatibility: the client's check of that setting, and another 409, fail
 * while the other is at it, and pass a moment later.
 */
export function registryFailure(what: string, err: unknown): C360Error {
  if (err instanceof C360Error) return err;
  const message = describeError(err).replace(/^Confluent_Schema_Registry - /, '');
  const status = (err as { status?: unknown }).status;
  if (
    /\bE[A-Z]{4,}\b/.test(message) ||
    /socket hang up|timed? ?out/i.test(message) ||
    (err as Error).name === 'ConfluentSchemaRegistryCompatibilityError' ||
    typeof status !== 'number'
  )
    return new DependencyUnavailableError('registry', `${what}: ${message}`, { cause: err });
  if (status === 409 && /incompatib/i.test(message))
    return new IncompatibleSchemaError(`${what}: the registry refuses it as incompatible (${message.split('\n', 1)[0]}).`);
  // Another 409 is a conflict with a writer doing the same at the same moment (Apicurio: "A rule named 'COMPATIBILITY' already exists"): again, it passes.
  if (status === 409) return new DependencyUnavailableError('registry', `${what}: ${message}`, { cause: err });
  return httpError('registry', what, status, { detail: message.replace(/^Error, status \d+:?\s*/, '').slice(0, 200), cause: err });
}

/**
 * Registers (idempotently) and returns the id. A registry that does not answer, or a subject another
 * worker is creating at the same moment, is tried again a few times; a refusal fails at once.
 */
export async function registerAvro(
  registry: SchemaRegistry,
  subject: string,
  schema: unknown,
  compatibility: CompatibilityLevel = 'BACKWARD',
): Promise<number> {
  return retry(
    async () => {
      try {
        const { id } = await registry.register(
          { type: SchemaType.AVRO, schema: JSON.stringify(schema) },
          { subject, compatibility: COMPATIBILITY[compatibility] },
        );
        return id;
      } catch (err) {
        throw registryFailure(`registering ${subject}`, err);
      }
    },
    { retries: 5, initialMs: 200, maxMs: 1_000 },
  );
}

/** The registry's basic-auth header, when the configuration names a user: every request c360 makes to it carries it. */
export function registryAuthHeaders(registry: Config['schemaRegistry']): Record<string, string> {
  const { auth } = registry;
  return auth ? { authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}` } : {};
}

/** How long an id the registry did not know stays unknown before it is asked again: a schema registered meanwhile is found. */
export const UNKNOWN_SCHEMA_RECHECK_MS = 10_000;
/** Ids asked of the registry at once; unknown ids remembered at most (a flood of made-up ids costs bounded memory). */
const FETCH_CONCURRENCY = 16;
const UNKNOWN_MAX = 10_000;

/**
 * Writer schemas by id, fetched once. An id the registry does not know is `undefined` until it is
 * asked again, `recheckMs` later; an unreachable or misbehaving registry throws (classified).
 */
export class WriterSchemas {
  private readonly known = new Map<number, { type: AvroType; schema: Record<string, unknown> }>();
  /** Ids the registry answered 404 (or not Avro) for, and when. */
  private readonly unknown = new Map<number, number>();

  constructor(
    private readonly config: Config,
    private readonly recheckMs = UNKNOWN_SCHEMA_RECHECK_MS,
  ) {}

  /** Whether the id needs no asking: known, or found unknown less than `recheckMs` ago. */
  has(id: number, now?: number): boolean {
    if (this.known.has(id)) return true;
    const at = this.unknown.get(id);
    // The clock is read only for an id found unknown: a known one (nearly every record's) costs a map lookup.
    return at !== undefined && (now ?? Date.now()) - at < this.recheckMs;
  }

  get(id: number): AvroType | undefined {
    return this.known.get(id)?.type;
  }

  /** The schema as the registry holds it (JSON), for files that must carry their writer schema. */
  schema(id: number): Record<string, unknown> | undefined {
    return this.known.get(id)?.schema;
  }

  async fetch(ids: Iterable<number>, now = Date.now()): Promise<void> {
    const wanted = [...new Set(ids)].filter((id) => !this.has(id, now));
    for (let i = 0; i < wanted.length; i += FETCH_CONCURRENCY) {
      await Promise.all(wanted.slice(i, i + FETCH_CONCURRENCY).map((id) => this.fetchOne(id, now)));
    }
  }

  private async fetchOne(id: number, now: number): Promise<void> {
    const { url } = this.config.schemaRegistry;
    const what = `schema registry (schema ${id})`;
    let res: Response;
    let text: string;
    try {
      res = await fetch(`${url}/schemas/ids/${id}`, { headers: registryAuthHeaders(this.config.schemaRegistry), signal: AbortSignal.timeout(10_000) });
      text = await res.text();
    } catch (err) {
      throw new DependencyUnavailableError('registry', `${what} did not answer: ${describeError(err)}`, { cause: err });
    }
    if (res.status === 404) return this.forget(id, now);
    if (!res.ok) throw httpError('registry', what, res.status);
    let body: { schema?: unknown; schemaType?: string };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      // A proxy's error page or a cut body: the registry is not answering as a registry, which is not the record's fault.
      throw new DependencyUnavailableError('registry', `${what} answered ${res.status} with a body that is not JSON`);
    }
    if ((body.schemaType && body.schemaType !== 'AVRO') || typeof body.schema !== 'string') return this.forget(id, now);
    let schema: Record<string, unknown>;
    try {
      schema = JSON.parse(body.schema) as Record<string, unknown>;
      this.remember(id, schema);
    } catch {
      this.forget(id, now);
    }
  }

  private forget(id: number, now: number): void {
    if (this.unknown.size >= UNKNOWN_MAX) this.unknown.clear();
    this.unknown.set(id, now);
  }

  /** A schema whose id is already known (one this process registered): no fetch needed. */
  remember(id: number, schema: Record<string, unknown>): void {
    if (!this.known.has(id)) this.known.set(id, { type: parseType(schema), schema });
    this.unknown.delete(id);
  }
}
