import { type Command, InvalidArgumentError } from 'commander';
import { type Config, loadConfig } from '../../config.js';
import type { Topology } from '../../contracts/topology-definition.js';
import { createKafka } from '../../kafka/client.js';
import { toolLogger } from '../../observability/logger.js';
import { type ErasureStores, forgetPerson, type GivenIdentifier, nearDuplicateErasure, pseudonymsOf, replayErasures } from '../../privacy/erasure.js';
import { openKeyStore } from '../../privacy/key-store.js';
import { PrivacyLog } from '../../privacy/privacy-log.js';
import { pseudonymsFrom } from '../../privacy/pseudonyms.js';
import { openRawLayer, readNearDuplicates, readRawLayer, rowJson } from '../../privacy/raw-reader.js';
import { RecordPrivacy } from '../../privacy/records.js';
import { SealedOpener } from '../../privacy/sealed.js';
import { describeRecord } from '../../quarantine/show.js';
import { readQuarantine } from '../../quarantine/store.js';
import { compileEntities } from '../../schema/entity.js';
import { WriterSchemas } from '../../schema/registry.js';
import { openObjectStore } from '../../storage/backends.js';
import { createRedis } from '../../storage/redis.js';
import { loadTopology } from '../../topology/load.js';
import {
  calendarDate,
  configWithStorage,
  many,
  report,
  type TableAtOptions,
  type TopologyOptions,
  tableAt,
  withJson,
  withStorageToRead,
  withTableAt,
  withTopology,
} from '../options.js';

interface PersonOptions extends TopologyOptions {
  email: string[];
  phone: string[];
  customerId: string[];
  deviceId: string[];
  id: string[];
}

const kindValue = (v: string) => {
  if (v.indexOf('=') <= 0) throw new InvalidArgumentError('Must be <kind>=<value>, e.g. record_id=E-17.');
  return v;
};

const withPerson = (cmd: Command) =>
  withTopology(cmd)
    .option('--email <address>', 'an email address of the person (repeatable)', many(), [])
    .option('--phone <number>', 'a phone number of the person: international, or national in C360_PHONE_REGION (repeatable)', many(), [])
    .option('--customer-id <id>', 'a customer id of the person (repeatable)', many(), [])
    .option('--device-id <id>', 'a device or advertising id of the person (repeatable)', many(), [])
    .option('--id <kind=value>', 'another identifier, e.g. record_id=E-17 (repeatable)', many(kindValue), []);

function given(o: PersonOptions): GivenIdentifier[] {
  return [
    ...o.email.map((value) => ({ option: '--email', kind: 'email', value })),
    ...o.phone.map((value) => ({ option: '--phone', kind: 'phone', value })),
    ...o.customerId.map((value) => ({ option: '--customer-id', kind: 'customer_id', value })),
    ...o.deviceId.map((value) => ({ option: '--device-id', kind: 'device', value })),
    ...o.id.map((v) => ({ option: `--id ${v.slice(0, v.indexOf('='))}=…`, kind: v.slice(0, v.indexOf('=')), value: v.slice(v.indexOf('=') + 1) })),
  ];
}

/** The pseudonyms of the person the options name, every identifier checked first: a mistake is one sentence before anything is opened. */
function personOf(config: Config, topology: Topology, o: PersonOptions, needer: string): { records: RecordPrivacy; identifiers: string[] } {
  const records = new RecordPrivacy(pseudonymsFrom(config, needer));
  const kinds = records.identifierKinds(topology.sources.flatMap(compileEntities));
  return { records, identifiers: pseudonymsOf(records, given(o), { kinds, region: config.phoneRegion }) };
}

/** The stores an erasure changes, open for `fn` and closed after it, whatever it does. */
async function withErasureStores<T>(config: Config, topology: Topology, fn: (stores: ErasureStores) => Promise<T>): Promise<T> {
  const { namespace } = topology;
  const logger = toolLogger(config.logLevel);
  const keyStore = openKeyStore(config, namespace);
  const store = openObjectStore(config);
  const redis = createRedis(config, logger);
  const nearDuplicates = nearDuplicateErasure(createKafka(config, logger, 'privacy'), topology);
  try {
    await redis.connect();
    return await fn({ keyStore, redis, log: new PrivacyLog(store, namespace), namespace, nearDuplicates });
  } finally {
    redis.disconnect();
    store.close();
    await keyStore.close();
  }
}

/** The namespace, then every copy a re-run made of it (c360 raw rerun): each has its own keys and erasure log. */
async function withCopies(config: Config, namespace: string): Promise<string[]> {
  const store = openObjectStore(config);
  try {
    return [namespace, ...(await new PrivacyLog(store, namespace).copies())];
  } finally {
    store.close();
  }
}

export function registerPrivacyCommands(program: Command): void {
  const privacy = program
    .command('privacy')
    .description(
      "A person's rights over their data: erasure (forget, replay) and access (export), and the record of who saw what (access-log). docs/privacy.md says how.",
    );

  withJson(withStorageToRead(withPerson(privacy.command('forget'))))
    .description(
      'Forget a person: the data keys of every subject their identifiers lead to become tombstones (their personal values in raw topics, the raw layer and quarantine become unreadable, and records still on their way are suppressed), their identifiers are suppressed at ingest, their near-duplicate entries leave Redis and its changelog, and the request is logged with pseudonyms only (privacy/<namespace>/erasures/ in the storage, and the key store). The same happens in every namespace a `raw rerun` copied this one into.',
    )
    .action(async (o: PersonOptions & { storage?: string; json: boolean }) => {
      const config = configWithStorage(o.storage);
      const topology = await loadTopology(o.topology, o);
      const { identifiers } = personOf(config, topology, o, 'c360 privacy forget');
      const requests = [];
      for (const namespace of await withCopies(config, topology.namespace)) {
        const outcome = await withErasureStores(config, { ...topology, namespace }, (stores) => forgetPerson({ ...stores, identifiers }));
        // Counts only: the request id is what the erasure log and the key store know it by.
        const request = {
          namespace,
          requestId: outcome.requestId,
          subjects: outcome.subjects.length,
          keysDeleted: outcome.keysDeleted,
          identifiersSuppressed: outcome.identifiers.length,
          redisKeysChanged: outcome.redisKeysChanged,
        };
        requests.push(request);
        if (!o.json)
          console.log(
            `${namespace === topology.namespace ? '' : `copy ${namespace}: `}request ${request.requestId}: ${request.subjects} subject(s) forgotten, ${request.keysDeleted} key(s) deleted, ${request.identifiersSuppressed} identifier(s) suppressed, ${request.redisKeysChanged} Redis key(s) changed`,
          );
      }
      if (o.json) console.log(JSON.stringify({ requests }));
    });

  withJson(withStorageToRead(withTopology(privacy.command('replay'))))
    .description(
      "Apply every logged erasure again (privacy/<namespace>/erasures/ in the storage), here and in every namespace a `raw rerun` copied this one into: run it after restoring the key store from a backup, which brings forgotten people's keys back.",
    )
    .action(async (o: TopologyOptions & { storage?: string; json: boolean }) => {
      const config = configWithStorage(o.storage);
      const topology = await loadTopology(o.topology, o);
      const replays = [];
      for (const namespace of await withCopies(config, topology.namespace)) {
        const replayed = { namespace, ...(await withErasureStores(config, { ...topology, namespace }, replayErasures)) };
        replays.push(replayed);
        if (!o.json)
          console.log(
            `${namespace === topology.namespace ? '' : `copy ${namespace}: `}${replayed.erasures} erasure(s) applied again, ${replayed.keysDestroyed} restored key(s) destroyed`,
          );
      }
      if (o.json) console.log(JSON.stringify({ replays }));
    });

  withTableAt(withStorageToRead(withPerson(privacy.command('export'))))
    .description(
      "Export every record of a person — the raw layer's (decrypted), the quarantine's (opened) and their near-duplicate events — across sources, as NDJSON on stdout (a person's right of access); recorded in the access log.",
    )
    .action(async (o: PersonOptions & TableAtOptions & { storage?: string }) => {
      const config = configWithStorage(o.storage);
      const topology = await loadTopology(o.topology, o);
      const { identifiers } = personOf(config, topology, o, 'c360 privacy export');
      const layer = openRawLayer(config, topology, 'c360 privacy export', tableAt(o));
      const schemas = new WriterSchemas(config);
      try {
        const { subjects } = await layer.keyStore.reach(identifiers);
        const wanted = new Set(subjects);
        await new PrivacyLog(layer.store, topology.namespace).access({ action: 'privacy export', what: { identifiers, subjects } });
        const counts = { raw: 0, quarantine: 0, near_duplicates: 0 };
        const print = (row: Record<string, unknown>) => process.stdout.write(`${rowJson(row)}\n`);
        if (wanted.size > 0) {
          // A forgotten person's rows are there still, unreadable: not theirs to export any more.
          const ingestIds = new Set<string>();
          for await (const row of readRawLayer(layer, { subjects: wanted })) {
            if (row.forgotten) continue;
            print({ layer: 'raw', source: row.source, entity: row.entity, date: row.date, ...row.record });
            if (typeof row.record._ingest_id === 'string') ingestIds.add(row.record._ingest_id);
            counts.raw++;
          }
          for await (const r of readQuarantine(layer.files, { subjects: wanted }, new SealedOpener(layer.keyStore))) {
            if (r.forgotten) continue;
            print({ layer: 'quarantine', ...(await describeRecord(r, schemas, true)) });
            counts.quarantine++;
          }
          for await (const row of readNearDuplicates(layer.files, wanted, ingestIds)) {
            print({ layer: 'near-duplicates', ...row });
            counts.near_duplicates++;
          }
        }
        console.error(
          `${counts.raw + counts.quarantine + counts.near_duplicates} record(s) for ${subjects.length} subject(s): ${counts.raw} raw, ${counts.quarantine} quarantined, ${counts.near_duplicates} near-duplicate event(s)`,
        );
      } finally {
        await layer.close();
      }
    });

  withStorageToRead(withTopology(privacy.command('access-log')))
    .description('Print the access log: who revealed personal data (quarantine show --unmask, privacy export), when, and what they asked for, as NDJSON.')
    .action(async (o: TopologyOptions & { storage?: string }) => {
      const config = configWithStorage(o.storage);
      const topology = await loadTopology(o.topology, o);
      const store = openObjectStore(config);
      try {
        for (const entry of await new PrivacyLog(store, topology.namespace).accesses()) console.log(JSON.stringify(entry));
      } finally {
        store.close();
      }
    });

  withJson(withTopology(privacy.command('forget-unidentified')))
    .description(
      'Make the quarantined bytes of records no person could be named for (they did not decode) unreadable for good, for ingest days before --before: their keys are per source and day.',
    )
    .requiredOption('--before <YYYY-MM-DD>', 'the first ingest day to keep', calendarDate)
    .action(async (o: TopologyOptions & { before: string; json: boolean }) => {
      const config = loadConfig();
      const topology = await loadTopology(o.topology, o);
      const keyStore = openKeyStore(config, topology.namespace);
      try {
        const keysDeleted = await keyStore.forgetUnidentifiedBefore(o.before);
        report(o, { before: o.before, keysDeleted }, () => console.log(`${keysDeleted} key(s) of unidentified dead letters before ${o.before} deleted`));
      } finally {
        await keyStore.close();
      }
    });
}
