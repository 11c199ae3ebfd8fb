import { type Command, InvalidArgumentError } from 'commander';
import { loadConfig } from '../../config.js';
import { toolLogger } from '../../observability/logger.js';
import { forgetPerson, type GivenIdentifier, pseudonymsOf } from '../../privacy/erasure.js';
import { openKeyStore } from '../../privacy/key-store.js';
import { pseudonymsFrom } from '../../privacy/pseudonyms.js';
import { openRawLayer, readRawLayer, rowJson } from '../../privacy/raw-reader.js';
import { RecordPrivacy } from '../../privacy/records.js';
import { createRedis } from '../../storage/redis.js';
import { loadTopology } from '../../topology/load.js';
import { calendarDate, configWithStorage, many, type TopologyOptions, withStorageToRead, withTopology } from '../options.js';

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
    .option('--phone <number>', 'a phone number of the person, E.164 (repeatable)', many(), [])
    .option('--customer-id <id>', 'a customer id of the person (repeatable)', many(), [])
    .option('--device-id <id>', 'a device or advertising id of the person (repeatable)', many(), [])
    .option('--id <kind=value>', 'another identifier, e.g. record_id=E-17 (repeatable)', many(kindValue), []);

function given(o: PersonOptions): GivenIdentifier[] {
  return [
    ...o.email.map((value) => ({ kind: 'email', value })),
    ...o.phone.map((value) => ({ kind: 'phone', value })),
    ...o.customerId.map((value) => ({ kind: 'customer_id', value })),
    ...o.deviceId.map((value) => ({ kind: 'device', value })),
    ...o.id.map((v) => ({ kind: v.slice(0, v.indexOf('=')), value: v.slice(v.indexOf('=') + 1) })),
  ];
}

export function registerPrivacyCommands(program: Command): void {
  const privacy = program.command('privacy').description("A person's rights over their data: erasure (forget) and access (export). docs/privacy.md says how.");

  withPerson(privacy.command('forget'))
    .description(
      'Forget a person: delete the data keys of every subject their identifiers lead to (their personal values in raw topics, the raw layer and quarantine become unreadable), suppress their identifiers at ingest, remove their near-duplicate entries from Redis, and log the request without personal data.',
    )
    .action(async (o: PersonOptions) => {
      const config = loadConfig();
      const topology = await loadTopology(o.topology, o);
      const records = new RecordPrivacy(pseudonymsFrom(config, 'c360 privacy forget'));
      const identifiers = pseudonymsOf(records, given(o));
      const keyStore = openKeyStore(config, topology.namespace);
      const redis = createRedis(config, toolLogger(config.logLevel));
      try {
        await redis.connect();
        const outcome = await forgetPerson({ keyStore, redis, namespace: topology.namespace, identifiers });
        console.log(
          `request ${outcome.requestId}: ${outcome.subjects.length} subject(s) forgotten, ${outcome.keysDeleted} key(s) deleted, ${outcome.identifiers.length} identifier(s) suppressed, ${outcome.redisKeysChanged} Redis key(s) changed`,
        );
      } finally {
        redis.disconnect();
        await keyStore.close();
      }
    });

  withStorageToRead(withPerson(privacy.command('export')))
    .description("Export every record the raw layer holds for a person, decrypted, across sources, as NDJSON on stdout (a person's right of access).")
    .action(async (o: PersonOptions & { storage?: string }) => {
      const layer = openRawLayer(configWithStorage(o.storage), await loadTopology(o.topology, o), 'c360 privacy export');
      try {
        const { subjects } = await layer.keyStore.reach(pseudonymsOf(layer.records, given(o)));
        let n = 0;
        if (subjects.length > 0) {
          for await (const row of readRawLayer(layer, { subjects: new Set(subjects) })) {
            process.stdout.write(`${rowJson({ source: row.source, entity: row.entity, date: row.date, ...row.record })}\n`);
            n++;
          }
        }
        console.error(`${n} record(s) for ${subjects.length} subject(s)`);
      } finally {
        await layer.close();
      }
    });

  withTopology(privacy.command('forget-unidentified'))
    .description(
      'Make the quarantined bytes of records no person could be named for (they did not decode) unreadable for good, for ingest days before --before: their keys are per source and day.',
    )
    .requiredOption('--before <YYYY-MM-DD>', 'the first ingest day to keep', calendarDate)
    .action(async (o: TopologyOptions & { before: string }) => {
      const config = loadConfig();
      const topology = await loadTopology(o.topology, o);
      const keyStore = openKeyStore(config, topology.namespace);
      try {
        console.log(`${await keyStore.forgetUnidentifiedBefore(o.before)} key(s) of unidentified dead letters before ${o.before} deleted`);
      } finally {
        await keyStore.close();
      }
    });
}
