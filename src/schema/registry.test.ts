// How c360 reads the registry's answers: a real fetch against a loopback server that answers as a
// registry (or a proxy in front of one) does.
import { describe, expect, it } from 'vitest';
import { failureOf, useScriptedServer } from '../../test/support/http.js';
import { loadConfig } from '../config.js';
import { DependencyRefusedError, DependencyUnavailableError, IncompatibleSchemaError } from '../contracts/errors.js';
import { registryFailure, UNKNOWN_SCHEMA_RECHECK_MS, WriterSchemas } from './registry.js';

const schema = JSON.stringify({ type: 'record', name: 'A', fields: [{ name: 'a', type: 'string' }] });

describe('writer schemas from the registry', () => {
  const server = useScriptedServer();
  const schemas = () => new WriterSchemas(loadConfig({ SCHEMA_REGISTRY_URL: server.url }));

  it('an id the registry does not know is asked again once the recheck time has passed: a schema registered meanwhile is found', async () => {
    const s = schemas();
    server.requests.length = 0;
    server.answers = [
      { status: 404, body: '{"error_code":40403}' },
      { status: 200, body: JSON.stringify({ schema }) },
    ];
    const t0 = 1_000_000;
    await s.fetch([7], t0);
    expect(s.get(7)).toBeUndefined();
    expect(s.has(7, t0 + 1)).toBe(true);
    await s.fetch([7], t0 + UNKNOWN_SCHEMA_RECHECK_MS - 1);
    expect(server.requests).toEqual(['GET /schemas/ids/7']);
    expect(s.has(7, t0 + UNKNOWN_SCHEMA_RECHECK_MS)).toBe(false);
    await s.fetch([7], t0 + UNKNOWN_SCHEMA_RECHECK_MS);
    expect(server.requests).toEqual(['GET /schemas/ids/7', 'GET /schemas/ids/7']);
    expect(s.schema(7)).toEqual(JSON.parse(schema));
  });

  it('a body that is not JSON (a proxy page, a cut answer) is the registry not answering, never the record', async () => {
    server.answers = [{ status: 200, body: '<html>Bad gateway</html>' }];
    const error = await failureOf(schemas().fetch([8]));
    expect(error).toBeInstanceOf(DependencyUnavailableError);
    expect(error.message).toBe('schema registry (schema 8) answered 200 with a body that is not JSON');
  });

  it('a 503 is retriable, a 401 is refused naming the credentials', async () => {
    server.answers = [{ status: 503 }];
    expect(await failureOf(schemas().fetch([9]))).toBeInstanceOf(DependencyUnavailableError);
    server.answers = [{ status: 401 }];
    const refused = await failureOf(schemas().fetch([10]));
    expect(refused).toBeInstanceOf(DependencyRefusedError);
    expect(refused.message).toBe('schema registry (schema 10) answered 401; not retried: check SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD');
  });
});

describe("the registry client's failures", () => {
  const failure = (status: number, message: string) => Object.assign(new Error(`Confluent_Schema_Registry - ${message}`), { status });

  it('the network, which the client reports as status 400, is unavailable', () => {
    expect(registryFailure('registering s', failure(400, 'Error, status 400: connect ECONNREFUSED 127.0.0.1:8081'))).toBeInstanceOf(DependencyUnavailableError);
  });

  it('401 and 403 are refused with the credentials to check; 409 is an incompatible schema; 5xx is retried', () => {
    const denied = registryFailure('registering s', failure(401, 'Error, status 401: Unauthorized'));
    expect(denied).toBeInstanceOf(DependencyRefusedError);
    expect(denied.message).toBe('registering s answered 401 (Unauthorized); not retried: check SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD');
    expect(registryFailure('registering s', failure(403, 'Error, status 403: Forbidden')).retriable).toBe(false);
    expect(registryFailure('registering s', failure(409, 'io.apicurio.registry.rules.RuleViolationException: Incompatible artifact: s [AVRO]'))).toBeInstanceOf(
      IncompatibleSchemaError,
    );
    // Two workers registering the same subject at once: the loser's conflict passes, and is retried.
    expect(registryFailure('registering s', failure(409, "A rule named 'COMPATIBILITY' already exists.")).retriable).toBe(true);
    expect(registryFailure('registering s', failure(503, 'Error, status 503: unavailable')).retriable).toBe(true);
    expect(registryFailure('registering s', failure(422, 'Error, status 422: Invalid schema')).retriable).toBe(false);
  });
});
