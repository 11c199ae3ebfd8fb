/**
 * Where a landing zone lives: a folder (SFTP drops, synced exports) or an S3-compatible bucket
 * prefix. Paths are relative to the zone's root, `/`-separated: `<source>/<file>`,
 * `processing/<source>/<file>`, `archive/<source>/<date>/<file>`, `rejected/<source>/<file>`.
 */
import { createHash } from 'node:crypto';

export interface LandingObject {
  name: string;
  /** When it was last written (mtime, or the object's Last-Modified). */
  modifiedMs: number;
  /** A symbolic link in a folder zone: never followed, rejected as it is. */
  link?: boolean;
}

export interface LandingStorage {
  /** `/path/to/zone` or `s3://bucket/prefix/`, for messages. */
  readonly url: string;
  /** The files directly under `dir` (sub-folders and their files are not listed). */
  list(dir: string): Promise<LandingObject[]>;
  /**
   * Moves `dir/name` into `toDir` under its name, or, when a file of that name is already there
   * (a re-delivery, kept), under the name with a suffix before its extensions. Returns the name it got.
   */
  move(dir: string, name: string, toDir: string): Promise<string>;
  remove(dir: string, name: string): Promise<void>;
  /** A small file's text, or undefined when there is none. */
  readText(dir: string, name: string): Promise<string | undefined>;
  writeText(dir: string, name: string, text: string): Promise<void>;
  /** A local file with the bytes of `dir/name` (under a name safe on any filesystem), and how to let it go. */
  local(dir: string, name: string): Promise<{ path: string; release(): void }>;
  /** Throws, in one sentence, when the zone cannot be read and written (readiness). */
  check(): Promise<void>;
  close(): void;
}

/** The name a moved file gets when its own is taken: a suffix before its extensions, so its format still shows. */
export function suffixed(name: string, suffix: string): string {
  const dot = name.indexOf('.', 1);
  return dot > 0 ? `${name.slice(0, dot)}-${suffix}${name.slice(dot)}` : `${name}-${suffix}`;
}

/** A file's extensions (`.csv`, `.ndjson.gz`), what its format is told by, when they are short and plain. */
export function extensionsOf(name: string): string {
  return /(\.[A-Za-z0-9]{1,10}){1,2}$/.exec(name)?.[0] ?? '';
}

/**
 * A name no longer than `maxBytes` (UTF-8): the name itself when it fits, else the start of its
 * stem, a hash of the whole name (two long names stay apart) and its extensions.
 */
export function fitted(name: string, maxBytes: number): string {
  if (Buffer.byteLength(name) <= maxBytes) return name;
  const ext = extensionsOf(name);
  const tag = `~${createHash('sha256').update(name).digest('hex').slice(0, 12)}`;
  let stem = name.slice(0, name.length - ext.length);
  while (stem.length > 0 && Buffer.byteLength(stem + tag + ext) > maxBytes) stem = stem.slice(0, -1);
  // A lone surrogate left by the cut would not survive UTF-8.
  return `${stem.replace(/[\uD800-\uDBFF]$/, '')}${tag}${ext}`;
}
