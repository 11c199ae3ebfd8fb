/**
 * Producing a batch of any size, shared by the topology runner, file ingest, connectors and
 * quarantine replay: it goes out in produce requests that stay under the broker's
 * `message.max.bytes` (1 MiB by default), and a failed transaction is aborted, never left open.
 */
import type { IHeaders, Message, Producer, TopicMessages, Transaction } from 'kafkajs';

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

function* requests(topicMessages: TopicMessages[]): Generator<TopicMessages[]> {
  let chunk = new Map<string, Message[]>();
  let bytes = 0;
  for (const { topic, messages } of topicMessages) {
    for (const m of messages) {
      const size = sizeOf(m);
      if (bytes + size > MAX_REQUEST_BYTES && bytes > 0) {
        yield [...chunk].map(([t, ms]) => ({ topic: t, messages: ms }));
        chunk = new Map();
        bytes = 0;
      }
      let list = chunk.get(topic);
      if (!list) chunk.set(topic, (list = []));
      list.push(m);
      bytes += size;
    }
  }
  if (bytes > 0) yield [...chunk].map(([t, ms]) => ({ topic: t, messages: ms }));
}

/** Sends the messages (in an open transaction, or with a plain producer) in as many produce requests as their size needs. */
export async function sendInRequests(sender: Pick<Transaction, 'sendBatch'>, topicMessages: TopicMessages[]): Promise<void> {
  for (const chunk of requests(topicMessages)) await sender.sendBatch({ topicMessages: chunk, acks: -1 });
}

/** One transaction holding all the messages, sent topic by topic: committed together, or aborted and the error rethrown. */
export async function sendTransaction(producer: Producer, topicMessages: TopicMessages[]): Promise<void> {
  const txn = await producer.transaction();
  try {
    for (const t of topicMessages) await sendInRequests(txn, [t]);
    await txn.commit();
  } catch (err) {
    await txn.abort().catch(() => undefined);
    throw err;
  }
}
