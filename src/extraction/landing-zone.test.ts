// The landing zone's pass over a folder when another watcher of the same zone is faster: a file
// gone between the listing and the move was taken, which is neither a failure nor left to retry.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { offlineContext } from '../../test/support/stages.js';
import { createLogger } from '../observability/logger.js';
import type { IngestFileOptions } from './file-ingest.js';
import { FolderLanding } from './landing/folder.js';
import { LandingZone } from './landing-zone.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'c360-zone-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

/** A folder zone where another watcher takes every file the moment this one moves to take it. */
class RacedFolder extends FolderLanding {
  override async move(dir: string, name: string, toDir: string): Promise<string> {
    if (dir === 'crm') fs.renameSync(path.join(root, dir, name), path.join(root, 'taken-elsewhere', name));
    return super.move(dir, name, toDir);
  }
}

describe('LandingZone.scan', () => {
  it('skips a file another watcher took between its listing and its move', async () => {
    fs.mkdirSync(path.join(root, 'crm'), { recursive: true });
    fs.mkdirSync(path.join(root, 'taken-elsewhere'), { recursive: true });
    fs.writeFileSync(path.join(root, 'crm', 'a.csv'), 'customer_id\nC-1\n');
    const ctx = offlineContext();
    const zone = new LandingZone({
      // Nothing reaches Kafka: the only file is gone before it is read.
      ...({} as Pick<IngestFileOptions, 'kafka' | 'namespace' | 'deadLetter' | 'sealer' | 'maxRecordBytes' | 'store'>),
      storage: new RacedFolder(root),
      entities: new Map([['crm', ctx.entitiesOfSource.get('crm')![0]!]]),
      requireDone: false,
      quietMs: 0,
      pollMs: 10,
      logger: createLogger('silent'),
    });
    expect(await zone.scan()).toBe(0);
    expect(zone.leftOver).toEqual([]);
    expect(fs.readdirSync(path.join(root, 'taken-elsewhere'))).toEqual(['a.csv']);
  });
});
