/** The Confluent-compatible schema registry (Apicurio's ccompat API locally, Confluent's in production). */
import { COMPATIBILITY, SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import type { Config } from '../config.js';
import type { CompatibilityLevel } from '../contracts/compatibility.js';
import { DependencyUnavailableError, describeError, httpError } from '../contracts/errors.js';
import { retry } from '../retry.js';
import { type AvroType, parseType } from './avro.js';

export function createSchemaRegistry(config: Config): SchemaRegistry {
  const { url, auth } = config.schemaRegistry;
  return new SchemaRegistry({ host: url, ...(auth ? { auth } : {}) });
}

/** Registers an Avro schema under a subject; registering the same schema again returns the same id. */
/**
 * Registers (idempotently) and returns the id. Retried a few times: workers starting together race
 * to create the same subject, and the loser can read it between its creation and its compatibility
 * setting ("BACKWARD != NONE") — a moment later the same request succeeds.
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
        throw new DependencyUnavailableError('registry', `could not register ${subject}: ${describeError(err)}`, { cause: err });
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

/** Writer schemas by id, fetched once. An id the registry does not know is `undefined`; an unreachable registry throws (retriable). */
export class WriterSchemas {
  private readonly known = new Map<number, { type: AvroType; schema: Record<string, unknown> } | undefined>();

  constructor(private readonly config: Config) {}

  has(id: number): boolean {
    return this.known.has(id);
  }

  get(id: number): AvroType | undefined {
    return this.known.get(id)?.type;
  }

  /** The schema as the registry holds it (JSON), for files that must carry their writer schema. */
  schema(id: number): Record<string, unknown> | undefined {
    return this.known.get(id)?.schema;
  }

  async fetch(ids: Iterable<number>): Promise<void> {
    const { url } = this.config.schemaRegistry;
    const headers = registryAuthHeaders(this.config.schemaRegistry);
    await Promise.all(
      [...ids]
        .filter((id) => !this.known.has(id))
        .map(async (id) => {
          let res: Response;
          try {
            res = await fetch(`${url}/schemas/ids/${id}`, { headers, signal: AbortSignal.timeout(10_000) });
          } catch (err) {
            throw new DependencyUnavailableError('registry', `schema registry unreachable: ${describeError(err)}`, { cause: err });
          }
          if (res.status === 404) {
            this.known.set(id, undefined);
            return;
          }
          if (!res.ok) throw httpError('registry', `schema registry (schema ${id})`, res.status);
          const body = (await res.json()) as { schema: string; schemaType?: string };
          if (body.schemaType && body.schemaType !== 'AVRO') {
            this.known.set(id, undefined);
            return;
          }
          this.remember(id, JSON.parse(body.schema) as Record<string, unknown>);
        }),
    );
  }

  /** A schema whose id is already known (one this process registered): no fetch needed. */
  remember(id: number, schema: Record<string, unknown>): void {
    if (!this.known.get(id)) this.known.set(id, { type: parseType(schema), schema });
  }
}
