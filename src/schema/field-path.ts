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

/** One step of a path: a field, fanning out over its array when the path says `[]` (`line_items[].sku`). */
export interface PathSegment {
  readonly key: string;
  readonly each: boolean;
}

export function pathSegments(path: string): PathSegment[] {
  return path.split('.').map((s) => ({ key: s.replace(/\[\]$/, ''), each: s.endsWith('[]') }));
}

/**
 * Calls `fn` for each present value a path reaches, with its container and key (so it may replace
 * it) and its concrete path (`line_items[2].sku`); a missing or null step ends that branch. Given
 * `fixed`, every value gets that path instead and no path is built: the hot paths pass it when the
 * path has no `[]`, or when they do not need the index.
 */
export function forEachAt(
  node: unknown,
  segments: readonly PathSegment[],
  fn: (container: Record<string | number, unknown>, key: string | number, path: string) => void,
  fixed?: string,
  i = 0,
  path = '',
): void {
  if (typeof node !== 'object' || node === null) return;
  const seg = segments[i]!;
  const obj = node as Record<string, unknown>;
  const child = obj[seg.key];
  if (child === undefined || child === null) return;
  const here = fixed ?? (path ? `${path}.${seg.key}` : seg.key);
  const last = i === segments.length - 1;
  if (!seg.each) {
    if (last) fn(obj, seg.key, here);
    else forEachAt(child, segments, fn, fixed, i + 1, here);
    return;
  }
  if (!Array.isArray(child)) return;
  for (let j = 0; j < child.length; j++) {
    const item: unknown = child[j];
    const at = fixed ?? `${here}[${j}]`;
    if (!last) forEachAt(item, segments, fn, fixed, i + 1, at);
    else if (item !== null && item !== undefined) fn(child as unknown as Record<number, unknown>, j, at);
  }
}
