/**
 * Group commit for the collector: requests that arrive while a send is in flight wait and go out
 * together in the next send (split into requests the broker accepts), and each request's promise settles when the batch holding its
 * events is acknowledged (acks=all). The idempotent producer keeps one request in flight, so this
 * is what lets concurrent clients share round trips instead of queueing one send each.
 */
import type { Message, Producer } from 'kafkajs';
import { sendInRequests } from '../../kafka/send.js';

interface Pending {
  topic: string;
  messages: Message[];
  resolve(): void;
  reject(err: unknown): void;
}

export class GroupSender {
  private queue: Pending[] = [];
  private inFlight = false;

  constructor(
    private readonly producer: Producer,
    /** Largest number of messages in one batch. */
    private readonly maxMessages = 5_000,
  ) {}

  send(topic: string, messages: Message[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ topic, messages, resolve, reject });
      if (!this.inFlight) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.inFlight = true;
    while (this.queue.length > 0) {
      const batch: Pending[] = [];
      let count = 0;
      while (this.queue.length > 0 && (batch.length === 0 || count + this.queue[0]!.messages.length <= this.maxMessages)) {
        const p = this.queue.shift()!;
        batch.push(p);
        count += p.messages.length;
      }
      try {
        await sendInRequests(this.producer, batch);
        for (const p of batch) p.resolve();
      } catch (err) {
        for (const p of batch) p.reject(err);
      }
    }
    this.inFlight = false;
  }
}
