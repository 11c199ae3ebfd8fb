import { describe, expect, it } from 'vitest';
import { changelogBatches, changelogEntries, changelogValue } from './state-changelog.js';

const entry = (i: number) => ({ key: Buffer.from(`key-${i}`), value: changelogValue(1_800_000_000_000 + i, Buffer.from(`claim ${i}`)) });

describe('changelog batches', () => {
  it('carry every entry once, in order, 2,000 to a message, each message keyed by its first entry', () => {
    const entries = Array.from({ length: 4_500 }, (_, i) => entry(i));
    const messages = changelogBatches(entries);
    expect(messages.map((m) => m.key.toString())).toEqual(['key-0', 'key-2000', 'key-4000']);
    const read = messages.flatMap((m) => changelogEntries(m));
    expect(read).toHaveLength(4_500);
    expect(read.map((e) => e.key.toString())).toEqual(entries.map((e) => e.key.toString()));
    expect(read.every((e, i) => e.value?.equals(entries[i]!.value))).toBe(true);
  });

  it('leave a message without the batch header as the one entry it is, a tombstone included', () => {
    const single = { key: Buffer.from('digest'), value: changelogValue(1, Buffer.from('claim')), headers: {} };
    expect(changelogEntries(single)).toEqual([{ key: single.key, value: single.value }]);
    expect(changelogEntries({ key: Buffer.from('gone'), value: null, headers: {} })).toEqual([{ key: Buffer.from('gone'), value: null }]);
    expect(changelogEntries({ key: null, value: Buffer.from('x'), headers: {} })).toEqual([]);
  });

  it('read a batch as far as its entries are whole: a cut message yields the entries before the cut', () => {
    const [m] = changelogBatches([entry(1), entry(2)]);
    const cut = { ...m!, value: m!.value.subarray(0, m!.value.length - 3) };
    expect(changelogEntries(cut).map((e) => e.key.toString())).toEqual(['key-1']);
  });
});
