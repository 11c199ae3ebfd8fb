import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeDirectory } from './directories.js';

describe('makeDirectory', () => {
  it('makes every missing level, and leaves what exists', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'c360-dirs-'));
    const deep = path.join(root, 'a', 'b', 'c');
    makeDirectory(deep);
    expect(fs.statSync(deep).isDirectory()).toBe(true);
    makeDirectory(deep);
    makeDirectory(root);
    fs.rmSync(root, { recursive: true });
  });

  it('throws what the filesystem says where a parent exists but refuses the child (procfs), instead of spinning', () => {
    expect(() => makeDirectory('/proc/sys/c360-not-here/x')).toThrow(/ENOENT/);
  });

  it('throws where a level is a file', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'c360-dirs-'));
    fs.writeFileSync(path.join(root, 'file'), '');
    expect(() => makeDirectory(path.join(root, 'file', 'x'))).toThrow(/ENOTDIR/);
    fs.rmSync(root, { recursive: true });
  });
});
