/** A landing zone in a local folder: renames within one filesystem, so a move is atomic. */
import fs from 'node:fs';
import path from 'node:path';
import { type LandingObject, type LandingStorage, suffixed } from './storage.js';

export class FolderLanding implements LandingStorage {
  readonly url: string;

  constructor(private readonly root: string) {
    this.url = root;
  }

  private at(dir: string, name = ''): string {
    return path.join(this.root, ...dir.split('/'), name);
  }

  async list(dir: string): Promise<LandingObject[]> {
    const folder = this.at(dir);
    if (!fs.existsSync(folder)) return [];
    const out: LandingObject[] = [];
    for (const entry of fs.readdirSync(folder, { withFileTypes: true })) {
      if (!entry.isFile()) continue;
      // A file can go between the listing and its stat (another watcher took it).
      const stat = fs.statSync(path.join(folder, entry.name), { throwIfNoEntry: false });
      if (stat) out.push({ name: entry.name, modifiedMs: stat.mtimeMs });
    }
    return out;
  }

  async move(dir: string, name: string, toDir: string): Promise<string> {
    fs.mkdirSync(this.at(toDir), { recursive: true });
    const target = fs.existsSync(this.at(toDir, name)) ? suffixed(name, String(Date.now())) : name;
    fs.renameSync(this.at(dir, name), this.at(toDir, target));
    return target;
  }

  async remove(dir: string, name: string): Promise<void> {
    fs.rmSync(this.at(dir, name), { force: true });
  }

  async readText(dir: string, name: string): Promise<string | undefined> {
    const file = this.at(dir, name);
    return fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : undefined;
  }

  async writeText(dir: string, name: string, text: string): Promise<void> {
    fs.mkdirSync(this.at(dir), { recursive: true });
    fs.writeFileSync(this.at(dir, name), text);
  }

  async local(dir: string, name: string): Promise<{ path: string; release(): void }> {
    return { path: this.at(dir, name), release: () => undefined };
  }

  async check(): Promise<void> {
    fs.accessSync(this.root, fs.constants.R_OK | fs.constants.W_OK);
  }

  close(): void {}
}
