import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../../test/support/worker.js';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'c360-demo-'));
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

describe('c360 demo (npm run demo)', () => {
  it('ingests every sample through files, the collector and a connector, lands it in Iceberg tables, and balances', async () => {
    const demo = spawnCli(['demo'], { C360_DATA_DIR: dataDir, LOG_LEVEL: 'info' });
    const { code } = await demo.exited;
    const out = demo.stdout();
    expect(code, demo.output()).toBe(0);
    const table = out.slice(out.indexOf('reconciliation'), out.indexOf('quarantined by error code')).trim().split('\n').slice(2);
    // source, received, landed raw, duplicates, (near-dups: order-dependent), quarantined, balanced
    const rows = table.map((l) => l.trim().split(/\s+/)).map(([s, received, raw, dups, , quarantined, ok]) => [s, received, raw, dups, quarantined, ok]);
    expect(rows).toEqual([
      ['commerce', '21', '16', '0', '5', 'yes'],
      ['crm', '33', '26', '1', '6', 'yes'],
      ['enrichment', '13', '7', '1', '5', 'yes'],
      ['marketing', '22', '16', '1', '5', 'yes'],
      ['support', '15', '13', '0', '2', 'yes'],
      ['web', '32', '29', '1', '2', 'yes'],
      ['total', '136', '107', '4', '25', 'yes'],
    ]);
    expect(out).toMatch(/^raw layer {2}107 raw rows, \d+ near-duplicate events, 25 quarantined rows in Iceberg tables: equal to the ledger$/m);
    expect(out).toContain('ledger     balanced: every record received is in exactly one place');
    expect(out).toMatch(/^ {2}crm\s+quality\.postal_code_invalid\s+1$/m);
    expect(out).toMatch(/^ {2}web\s+quality\.device_id_invalid\s+1$/m);
  });
});
