/**
 * A landing zone in a local folder: renames within one filesystem, so a move is atomic. Nothing
 * outside the zone is followed or moved: a folder of the zone that is a symbolic link (a source's,
 * processing/, archive/, rejected/) is refused, and a file that is one is listed as a link, to be
 * rejected as it is, never read through.
 */

import fs from 'node:fs';
import path from 'node:path';
import { DependencyRefusedError, onDisk, UnreadableFileError } from '../../contracts/errors.js';
import { makeDirectory } from '../../storage/directories.js';
import { fitted, type LandingObject, type LandingStorage, suffixed } from './storage.js';

/** The longest name a moved file gets: a filesystem's 255 bytes, less room for `.reason.txt` beside it in rejected/. */
const MAX_NAME_BYTES = 240;

export class FolderLanding implements LandingStorage {
  readonly url: string;
  private readonly root: string;

  constructor(root: string) {
    this.root = fs.realpathSync(root);
    this.url = root;
  }

  /** The path of `dir` (and `name` in it), once every folder of `dir` is known to be a real folder of the zone. */
  private at(dir: string, name = ''): string {
    let folder = this.root;
    for (const part of dir.split('/')) {
      folder = path.join(folder, part);
      if (onDisk('disk', `reaching ${folder}`, () => fs.lstatSync(folder, { throwIfNoEntry: false }))?.isSymbolicLink())
        throw new DependencyRefusedError('disk', `${folder} is a symbolic link: c360 watch follows nothing out of the landing zone ${this.root}`);
    }
    return path.join(folder, name);
  }

  async list(dir: string): Promise<LandingObject[]> {
    const folder = this.at(dir);
    return onDisk('disk', `listing ${folder}`, () => {
      if (!fs.existsSync(folder)) return [];
      const out: LandingObject[] = [];
      for (const entry of fs.readdirSync(folder, { withFileTypes: true })) {
        if (!entry.isFile() && !entry.isSymbolicLink()) continue;
        // A file can go between the listing and its stat (another watcher took it).
        const stat = fs.lstatSync(path.join(folder, entry.name), { throwIfNoEntry: false });
        if (stat) out.push({ name: entry.name, modifiedMs: stat.mtimeMs, ...(stat.isSymbolicLink() ? { link: true } : {}) });
      }
      return out;
    });
  }

  async move(dir: string, name: string, toDir: string): Promise<string> {
    const from = this.at(dir, name);
    const to = this.at(toDir);
    return onDisk('disk', `moving ${from} to ${to}`, () => {
      makeDirectory(to);
      const fit = fitted(name, MAX_NAME_BYTES);
      const target = fs.existsSync(path.join(to, fit)) ? fitted(suffixed(name, String(Date.now())), MAX_NAME_BYTES) : fit;
      fs.renameSync(from, path.join(to, target));
      return target;
    });
  }

  async remove(dir: string, name: string): Promise<void> {
    const file = this.at(dir, name);
    onDisk('disk', `removing ${file}`, () => fs.rmSync(file, { force: true }));
  }

  async readText(dir: string, name: string): Promise<string | undefined> {
    const file = this.at(dir, name);
    return onDisk('disk', `reading ${file}`, () => {
      const stat = fs.lstatSync(file, { throwIfNoEntry: false });
      if (stat?.isSymbolicLink()) throw new DependencyRefusedError('disk', `${file} is a symbolic link: c360 watch follows nothing out of the landing zone`);
      return stat ? fs.readFileSync(file, 'utf8') : undefined;
    });
  }

  async writeText(dir: string, name: string, text: string): Promise<void> {
    const file = this.at(dir, name);
    onDisk('disk', `writing ${file}`, () => {
      makeDirectory(path.dirname(file));
      fs.writeFileSync(file, text);
    });
  }

  async local(dir: string, name: string): Promise<{ path: string; release(): void }> {
    const file = this.at(dir, name);
    if (fs.lstatSync(file, { throwIfNoEntry: false })?.isSymbolicLink())
      throw new UnreadableFileError(`${name} is a symbolic link: c360 watch follows nothing out of the landing zone`);
    return { path: file, release: () => undefined };
  }

  async check(): Promise<void> {
    onDisk('disk', `using the landing zone ${this.root}`, () => fs.accessSync(this.root, fs.constants.R_OK | fs.constants.W_OK));
  }

  close(): void {}
}
