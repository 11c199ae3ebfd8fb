/** The raw layer on a local (or mounted) filesystem: link(2) publishes without ever replacing, fsync makes it durable. */

import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { onDisk } from '../contracts/errors.js';
import { makeDirectory } from './directories.js';
import type { ObjectStore, PutOutcome, StorageBackendSpec, StoredObject } from './object-store.js';

export class LocalStore implements ObjectStore {
  readonly url: string;
  readonly spoolDir: string;

  constructor(
    private readonly root: string,
    spoolDir: string | undefined,
  ) {
    this.root = path.resolve(root);
    this.url = pathToFileURL(this.root).href;
    // link(2) needs the spool on the same filesystem: a hidden folder of the root, which no reader globs.
    this.spoolDir = spoolDir ?? path.join(this.root, '_spool');
  }

  async publishFile(localPath: string, key: string): Promise<PutOutcome> {
    const target = this.locate(key);
    return onDisk('object-store', `publishing ${this.url}/${key}`, () => {
      makeDirectory(path.dirname(target));
      let outcome: PutOutcome = 'created';
      try {
        fs.linkSync(localPath, target);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        outcome = 'exists';
      }
      syncDir(path.dirname(target));
      fs.rmSync(localPath, { force: true });
      return outcome;
    });
  }

  async putIfAbsent(key: string, body: Buffer): Promise<PutOutcome> {
    const temp = path.join(this.spoolDir, `${process.pid}-${Math.random().toString(36).slice(2)}.tmp`);
    onDisk('object-store', `writing ${temp}`, () => {
      makeDirectory(this.spoolDir);
      const fd = fs.openSync(temp, 'wx');
      try {
        fs.writeSync(fd, body);
        fs.fsyncSync(fd);
      } catch (err) {
        fs.rmSync(temp, { force: true });
        throw err;
      } finally {
        fs.closeSync(fd);
      }
    });
    return this.publishFile(temp, key);
  }

  async list(prefix: string): Promise<string[]> {
    return (await this.listModified(prefix)).map((o) => o.key);
  }

  async listModified(prefix: string): Promise<StoredObject[]> {
    const slash = prefix.lastIndexOf('/');
    const dir = path.join(this.root, prefix.slice(0, slash + 1));
    return onDisk('object-store', `listing ${this.url}/${prefix}`, () => {
      if (!fs.existsSync(dir)) return [];
      const base = path.relative(this.root, dir);
      const out: StoredObject[] = [];
      for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: false }) as string[]) {
        const key = (base ? `${base}/${entry}` : entry).split(path.sep).join('/');
        if (!key.startsWith(prefix) || key.startsWith('_spool/')) continue;
        const stat = fs.statSync(path.join(this.root, key), { throwIfNoEntry: false });
        if (stat?.isFile()) out.push({ key, modifiedMs: stat.mtimeMs });
      }
      return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    });
  }

  async remove(key: string): Promise<void> {
    onDisk('object-store', `deleting ${this.url}/${key}`, () => fs.rmSync(path.join(this.root, key), { force: true }));
  }

  async read(key: string): Promise<Buffer> {
    return onDisk('object-store', `reading ${this.url}/${key}`, () => fs.readFileSync(this.locate(key)));
  }

  async check(): Promise<void> {
    onDisk('object-store', `writing to ${this.url}`, () => {
      makeDirectory(this.root);
      fs.accessSync(this.root, fs.constants.R_OK | fs.constants.W_OK);
    });
  }

  locate(key: string): string {
    return path.join(this.root, ...key.split('/'));
  }

  close(): void {}
}

function syncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

export const localBackend: StorageBackendSpec = {
  name: 'local',
  description:
    'A local or mounted folder (a plain path or file:///path). Files are published with link(2), which never replaces an existing file, and fsynced.',
  schemes: ['', 'file'],
  create: (url, config) => new LocalStore(url.startsWith('file://') ? new URL(url).pathname : url, config.spoolDir),
};
