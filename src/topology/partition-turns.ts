/**
 * One batch at a time per input partition, and never again a record this worker has committed.
 * After the group rejoins, KafkaJS hands a partition's next batch to the handler while the batch
 * before it may still be retrying its produce or commit (a broker died under it). The partition's
 * producer is kept across the rejoin, so the committed-offset check a new producer brings does not
 * run, and both batches committed: the three-broker coordinator-kill test landed the same 15
 * records twice, in 2 runs of 19. So a batch waits for its partition's batch in flight, then drops
 * the records that one committed — and those below the group's committed offset, when a new
 * producer has read it (a commit of the worker before, or one that reported failure but was prepared).
 */
export class PartitionTurns {
  private readonly tails = new Map<string, Promise<void>>();
  private readonly marks = new Map<string, bigint>();

  /** Runs `turn` once every earlier turn of the partition has settled, whether it failed or not. */
  async take<T>(partition: string, turn: () => Promise<T>): Promise<T> {
    const before = this.tails.get(partition);
    let settle!: () => void;
    const mine = new Promise<void>((resolve) => (settle = resolve));
    this.tails.set(partition, mine);
    try {
      await before;
      return await turn();
    } finally {
      settle();
      if (this.tails.get(partition) === mine) this.tails.delete(partition);
    }
  }

  /** The partition's records below `next` are committed: by this worker, or by any, as the group's offset says. */
  committed(partition: string, next: bigint): void {
    if (next > (this.marks.get(partition) ?? -1n)) this.marks.set(partition, next);
  }

  /** The messages not known to be committed, of a batch in offset order. */
  uncommitted<M extends { offset: string }>(partition: string, messages: M[]): M[] {
    const mark = this.marks.get(partition);
    // Nearly every batch starts at or past the mark: its first offset says so, without a BigInt per record.
    if (mark === undefined || messages.length === 0 || BigInt(messages[0]!.offset) >= mark) return messages;
    return messages.filter((m) => BigInt(m.offset) >= mark);
  }
}
