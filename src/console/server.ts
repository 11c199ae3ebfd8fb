/**
 * The quarantine console (`c360 console`): one web page where a data steward sees what was
 * rejected, by source, day, code and event, with its counts over time, opens a record (personal fields masked), unmasks it where this
 * process may (C360_ALLOW_UNMASK; each reveal recorded in the access log first), and replays a
 * filtered set after a fix, with a preview of what the replay sends and the ledger's counts before
 * and after. It reads the quarantine the CLI reads, and each action is a CLI command too
 * (`quarantine ls|show|show --unmask|replay --dry-run|replay`, `ledger`).
 *
 * It binds to loopback unless told otherwise; on any other address it requires C360_CONSOLE_TOKEN,
 * given once (`/?token=…`) and kept in a same-site, HTTP-only cookie, or sent as a bearer token.
 */

import { timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import type { Kafka } from 'kafkajs';
import type { Config } from '../config.js';
import { ConfigError, RECORD_ERROR_CODES } from '../contracts/errors.js';
import { type LedgerEntry, totalsOf } from '../contracts/ledger.js';
import { stringifyLongJson } from '../contracts/long-json.js';
import { topicNames } from '../contracts/topic-names.js';
import type { Topology } from '../contracts/topology-definition.js';
import { readToEnd } from '../kafka/read-to-end.js';
import type { KeyStore } from '../privacy/key-store.js';
import { PrivacyLog } from '../privacy/privacy-log.js';
import { SealedOpener } from '../privacy/sealed.js';
import { describeRecord } from '../quarantine/show.js';
import { countQuarantine, type QuarantineFilter, readQuarantine } from '../quarantine/store.js';
import { replayQuarantine } from '../replay/quarantine.js';
import { WriterSchemas } from '../schema/registry.js';
import type { LayerFiles } from '../sinks/layer-files.js';
import { PAGE } from './page.js';

export interface ConsoleOptions {
  config: Config;
  topology: Topology;
  files: LayerFiles;
  keyStore: KeyStore;
  kafka: Kafka;
  host: string;
  port: number;
  /** Required off loopback. */
  token: string | undefined;
}

const COOKIE = 'c360_console';
const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;
/** Records listed at most per request: the page is for reading, `quarantine show` for bulk. */
const MAX_LIST = 200;

/** A filter from the query or body, each part a list; unknown sources and codes are refused. */
function filterFrom(input: Record<string, unknown>, topology: Topology): QuarantineFilter {
  const list = (v: unknown) => (Array.isArray(v) ? v.map(String) : typeof v === 'string' && v !== '' ? v.split(',') : []);
  const source = list(input.source);
  const code = list(input.code);
  const date = list(input.date);
  const ingestId = list(input.ingestId);
  const event = list(input.event);
  const known = new Set(topology.sources.map((s) => s.name));
  for (const s of source) if (!known.has(s)) throw new ConfigError(`source ${s} is not a source of the topology`);
  for (const c of code) if (!(c in RECORD_ERROR_CODES)) throw new ConfigError(`${c} is not a record error code`);
  for (const d of date) if (!/^\d{4}-\d{2}-\d{2}$/.test(d)) throw new ConfigError(`${d} is not a date (YYYY-MM-DD)`);
  return { source, code, date, event, ingestId };
}

export async function startConsole(o: ConsoleOptions): Promise<{ url: string; close(): Promise<void> }> {
  if (!LOOPBACK.test(o.host) && !o.token)
    throw new ConfigError(`the console would listen on ${o.host}, beyond this machine: set C360_CONSOLE_TOKEN, which every visitor must then give.`);
  const log = new PrivacyLog(o.files.store, o.topology.namespace);
  const schemas = new WriterSchemas(o.config);
  const names = topicNames(o.topology.namespace);
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024 });

  const authorised = (req: FastifyRequest): boolean => {
    if (!o.token) return true;
    const cookie = /(?:^|;\s*)c360_console=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const given = Buffer.from(decodeURIComponent(cookie ?? bearer ?? ''));
    const want = Buffer.from(o.token);
    return given.length === want.length && timingSafeEqual(given, want);
  };
  const refuse = (reply: FastifyReply, status: number, error: string) => reply.code(status).type('application/json').send(stringifyLongJson({ error }));

  app.addHook('onRequest', async (req, reply) => {
    const url = new URL(req.url, 'http://console');
    const offered = url.searchParams.get('token');
    if (o.token && url.pathname === '/' && offered !== null) {
      const ok = offered.length === o.token.length && timingSafeEqual(Buffer.from(offered), Buffer.from(o.token));
      if (!ok) return refuse(reply, 401, 'wrong console token');
      // The token leaves the address bar at once; the cookie goes back to this console only.
      return reply.header('set-cookie', `${COOKIE}=${encodeURIComponent(o.token)}; HttpOnly; SameSite=Strict; Path=/`).redirect('/');
    }
    if (!authorised(req)) return refuse(reply, 401, 'the console needs its token: open it as /?token=…');
    return undefined;
  });
  app.setErrorHandler((err, _req, reply) => refuse(reply, err instanceof ConfigError ? 400 : 500, err instanceof Error ? err.message : String(err)));

  app.get('/', async (_req, reply) =>
    reply
      .type('text/html; charset=utf-8')
      .header('content-security-policy', "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'")
      .send(PAGE),
  );

  app.get('/api/about', async () => ({
    namespace: o.topology.namespace,
    sources: o.topology.sources.map((s) => s.name),
    canUnmask: o.config.allowUnmask,
  }));

  app.get('/api/counts', async (req) => {
    const { byCode, byDay } = await countQuarantine(o.files, filterFrom(req.query as Record<string, unknown>, o.topology));
    return { counts: byCode, days: byDay };
  });

  app.get('/api/records', async (req, reply) => {
    const records = [];
    for await (const r of readQuarantine(o.files, filterFrom(req.query as Record<string, unknown>, o.topology), new SealedOpener(o.keyStore))) {
      if (records.length >= MAX_LIST) break;
      records.push(await describeRecord(r, schemas, false));
    }
    return reply.type('application/json').send(stringifyLongJson({ records }));
  });

  app.post('/api/unmask', async (req, reply) => {
    if (!o.config.allowUnmask) return refuse(reply, 403, 'this console may not reveal personal data: C360_ALLOW_UNMASK is not set for it');
    const { ingestId } = (req.body ?? {}) as { ingestId?: unknown };
    if (typeof ingestId !== 'string' || ingestId === '') throw new ConfigError('unmask needs the ingestId of one record');
    // Recorded before anything is revealed: a reveal the log cannot hold does not happen.
    await log.access({ action: 'console unmask', what: { ingestId: [ingestId] } });
    for await (const r of readQuarantine(o.files, { ingestId: [ingestId] }, new SealedOpener(o.keyStore))) {
      return reply.type('application/json').send(stringifyLongJson({ record: await describeRecord(r, schemas, true) }));
    }
    return refuse(reply, 404, `no quarantined record ${ingestId}`);
  });

  app.post('/api/replay', async (req) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const filter = filterFrom(body, o.topology);
    if (![filter.source, filter.date, filter.code, filter.event, filter.ingestId].some((f) => f?.length))
      throw new ConfigError('a replay from the console needs a source, date, code, event or record filter');
    const dryRun = body.dryRun !== false;
    const result = await replayQuarantine({
      files: o.files,
      kafka: o.kafka,
      namespace: o.topology.namespace,
      filter,
      dryRun,
      opener: new SealedOpener(o.keyStore),
    });
    return { dryRun, ...result };
  });

  app.get('/api/ledger', async () => {
    const entries: LedgerEntry[] = [];
    await readToEnd(o.kafka, names.ledger, (m) => entries.push(JSON.parse(m.value!.toString()) as LedgerEntry));
    const totals = totalsOf(entries);
    return { total: totals.total, bySource: Object.fromEntries([...totals.bySource].map(([s, c]) => [s, { ...c, errors: undefined }])) };
  });

  const address = await app.listen({ host: o.host, port: o.port });
  return { url: address, close: () => app.close() };
}
