/**
 * Producing a batch of any size, shared by the topology runner, file ingest, connectors and
 * replays: it goes out in produce requests that stay under the broker's
 * `message.max.bytes` (1 MiB by default), and a failed transaction is aborted, never left open.
 */
import { type IHeaders, type Kafka, type Message, Partitioners, type Producer, type TopicMessages, type Transaction } from 'kafkajs';

/** Half the broker's default request limit: room for the protocol's own framing per record. */
const MAX_REQUEST_BYTES = 512 * 1024;

const bytesOf = (v: Buffer | string | null | undefined): number => (v == null ? 0 : typeof v === 'string' ? Buffer.byteLength(v) : v.length);

function sizeOf(m: Message): number {
  let size = 64 + bytesOf(m.key) + bytesOf(m.value);
  const headers: IHeaders = m.headers ?? {};
  for (const k in headers) {
    const v = headers[k];
    for (const one of Array.isArray(v) ? v : [v]) size += k.length + bytesOf(one);
  }
  return size;
}

/**
 * A topic's max.message.bytes bounds a record batch, and KafkaJS puts all of a request's messages
 * for one partition into one batch: so besides the request limit, a request holds no more of a
 * topic's messages than its limit (with room for the batch's own framing).
 */
const BATCH_FRAMING_BYTES = 1024;

function* requests(topicMessages: TopicMessages[], limits: ReadonlyMap<string, number>): Generator<TopicMessages[]> {
  let chunk = new Map<string, { messages: Message[]; bytes: number }>();
  let bytes = 0;
  for (const { topic, messages } of topicMessages) {
    const topicLimit = Math.max((limits.get(topic) ?? Number.POSITIVE_INFINITY) - BATCH_FRAMING_BYTES, 1);
    for (const m of messages) {
      const size = sizeOf(m);
      const forTopic = chunk.get(topic)?.bytes ?? 0;
      if (bytes > 0 && (bytes + size > MAX_REQUEST_BYTES || (forTopic > 0 && forTopic + size > topicLimit))) {
        yield [...chunk].map(([t, c]) => ({ topic: t, messages: c.messages }));
        chunk = new Map();
        bytes = 0;
      }
      let entry = chunk.get(topic);
      if (!entry) chunk.set(topic, (entry = { messages: [], bytes: 0 }));
      entry.messages.push(m);
      entry.bytes += size;
      bytes += size;
    }
  }
  if (bytes > 0) yield [...chunk].map(([t, c]) => ({ topic: t, messages: c.messages }));
}

/**
 * Sends the messages (in an open transaction, or with a plain producer) in as many produce requests
 * as their size needs; `limits` holds the max.message.bytes of topics whose limit is below the broker's.
 */
export async function sendInRequests(
  sender: Pick<Transaction, 'sendBatch'>,
  topicMessages: TopicMessages[],
  limits: ReadonlyMap<string, number> = new Map(),
): Promise<void> {
  for (const chunk of requests(topicMessages, limits)) await sender.sendBatch({ topicMessages: chunk, acks: -1 });
}

/** One transaction holding all the messages, sent topic by topic: committed together, or aborted and the error rethrown. */
export async function sendTransaction(producer: Producer, topicMessages: TopicMessages[], limits: ReadonlyMap<string, number> = new Map()): Promise<void> {
  const txn = await producer.transaction();
  try {
    for (const t of topicMessages) await sendInRequests(txn, [t], limits);
    await txn.commit();
  } catch (err) {
    await txn.abort().catch(() => undefined);
    throw err;
  }
}

/** Tombstones (null values) over keys of a compacted topic, from a producer of their own; nothing when the topic does not exist (nothing in it to cover). */
export async function sendTombstones(kafka: Kafka, topic: string, keys: Buffer[]): Promise<void> {
  if (keys.length === 0) return;
  const admin = kafka.admin();
  await admin.connect();
  const topics = await admin.listTopics().finally(() => admin.disconnect());
  if (!topics.includes(topic)) return;
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  try {
    await sendInRequests(producer, [{ topic, messages: keys.map((key) => ({ key, value: null })) }]);
  } finally {
    await producer.disconnect();
  }
}
