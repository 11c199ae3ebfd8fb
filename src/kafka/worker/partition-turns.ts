/**
 * One turn at a time per partition. After the group rejoins, KafkaJS hands a partition's next
 * batch to the handler while the batch before it may still be retrying its produce or commit (a
 * broker died under it); a sink's idle flush and a revocation touch the same partition's files.
 * So every piece of work on a partition waits for the one before it, whether that one failed or not.
 */
export class PartitionTurns {
  private readonly tails = new Map<string, Promise<void>>();

  /** Runs `turn` once every earlier turn of the partition has settled, whether it failed or not. */
  async take<T>(partition: string, turn: () => Promise<T> | T): Promise<T> {
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
}
