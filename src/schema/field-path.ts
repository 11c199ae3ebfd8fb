/** Dotted field paths (`address.country`) into decoded records, as topologies name fields. */

/** Paths come from configuration, so there are few: split once, not per record. */
const PATH_KEYS = new Map<string, string[]>();

/** Reads a dotted path (`address.country`) from a record; undefined when any step is missing. */
export function readPath(record: Record<string, unknown>, path: string): unknown {
  let keys = PATH_KEYS.get(path);
  if (!keys) PATH_KEYS.set(path, (keys = path.split('.')));
  let node: unknown = record;
  for (const key of keys) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}
