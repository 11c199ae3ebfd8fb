/**
 * Where a landing zone lives: a folder (SFTP drops, synced exports) or an S3-compatible bucket
 * prefix. Paths are relative to the zone's root, `/`-separated: `<source>/<file>`,
 * `processing/<source>/<file>`, `archive/<source>/<date>/<file>`, `rejected/<source>/<file>`.
 */

export interface LandingObject {
  name: string;
  /** When it was last written (mtime, or the object's Last-Modified). */
  modifiedMs: number;
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
  /** A local file with the bytes of `dir/name`, under its own name, and how to let it go. */
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
