/**
 * Positions of file ingests and connectors in the compacted `<ns>.connector-state` topic. A
 * position is written in the same Kafka transaction as the records it covers, so after a crash
 * the last committed position is exactly where the committed records end: nothing is skipped,
 * nothing sent twice.
 */
import type { Kafka, Message } from 'kafkajs';
import { readToEnd } from '../kafka/read-to-end.js';

/** The latest committed value of `key`, or undefined. */
export async function readState<T>(kafka: Kafka, topic: string, key: string): Promise<T | undefined> {
  let latest: T | undefined;
  await readToEnd(kafka, topic, (m) => {
    if (m.key?.toString() !== key) return;
    latest = m.value ? (JSON.parse(m.value.toString()) as T) : undefined;
  });
  return latest;
}

export function stateMessage(key: string, value: unknown): Message {
  return { key, value: JSON.stringify(value) };
}
