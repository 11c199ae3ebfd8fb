/**
 * Sending stored records back into a namespace's ingest topics, as quarantine replay and raw
 * re-runs do: an idempotent producer, messages gathered per topic and sent a few hundred at a time
 * in requests sized for the broker (kafka/send.ts). A dry run sends nothing and counts the same.
 */
import { type Kafka, type Message, Partitioners } from 'kafkajs';
import { topicNames } from '../contracts/topic-names.js';
import { sendInRequests } from '../kafka/send.js';

/** One record for a source's ingest topic. */
export interface IngestMessage {
  source: string;
  message: Message;
}

const FLUSH_EVERY = 500;

/** Sends each message to its source's ingest topic in `namespace`; returns how many went, by source. */
export async function sendToIngest(
  kafka: Kafka,
  namespace: string,
  messages: AsyncIterable<IngestMessage>,
  options: { dryRun?: boolean } = {},
): Promise<Record<string, number>> {
  const names = topicNames(namespace);
  const bySource: Record<string, number> = {};
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
  if (!options.dryRun) await producer.connect();
  try {
    let pending = new Map<string, Message[]>();
    let size = 0;
    const flush = async () => {
      if (size > 0 && !options.dryRun)
        await sendInRequests(
          producer,
          [...pending].map(([topic, batch]) => ({ topic, messages: batch })),
        );
      pending = new Map();
      size = 0;
    };
    for await (const { source, message } of messages) {
      const topic = names.ingest(source);
      const batch = pending.get(topic) ?? [];
      pending.set(topic, batch);
      batch.push(message);
      bySource[source] = (bySource[source] ?? 0) + 1;
      if (++size >= FLUSH_EVERY) await flush();
    }
    await flush();
  } finally {
    if (!options.dryRun) await producer.disconnect();
  }
  return bySource;
}

/** "crm=4 web=2": what a replay sent, by source in name order, for its summary line. */
export function bySourceText(bySource: Record<string, number>): string {
  return Object.entries(bySource)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([s, n]) => `${s}=${n}`)
    .join(' ');
}
