// A key store restored from a backup brings forgotten people's keys back; `c360 privacy replay`
// applies the erasure log (kept in the object store, which the restore does not touch) again.
// Real pg_dump and pg_restore on a private PostgreSQL cluster, and the real CLI.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { config } from '../../test/support/kafka.js';
import { type PrivatePostgres, startPrivatePostgres } from '../../test/support/postgres.js';
import { testNamespace } from '../../test/support/topology.js';
import { runCli } from '../../test/support/worker.js';
import { decryptValue, encryptValue } from './envelope-keys.js';
import { KeyStore } from './key-store.js';
import { pseudonymsFrom } from './pseudonyms.js';
import { RecordPrivacy } from './records.js';

describe('privacy replay after the key store is restored from a backup', () => {
  const namespace = testNamespace();
  const storage = fs.mkdtempSync(path.join(os.tmpdir(), 'c360-replay-'));
  const records = new RecordPrivacy(pseudonymsFrom(config, 'test'));
  const ann = { subject: records.identifier('customer_id', 'C-ANN')!, identifiers: [records.identifier('email', 'ann@example.com')!] };
  const bob = { subject: records.identifier('customer_id', 'C-BOB')!, identifiers: [records.identifier('email', 'bob@example.com')!] };
  let pg: PrivatePostgres;
  let store: KeyStore;
  const cli = (...args: string[]) => runCli([...args, '--namespace', namespace, '--storage', storage], { C360_KEY_STORE_URL: pg.adminUrl });

  beforeAll(() => {
    pg = startPrivatePostgres();
    store = new KeyStore({ ...config, keyStoreUrl: pg.adminUrl }, namespace, config.kek!);
  });
  afterAll(async () => {
    await store?.close();
    pg?.destroy();
  });

  it('forgets again whom the restore brought back, and no one else', async () => {
    const made = await store.admit([ann, bob].map((p) => ({ ...p, unlinked: p.identifiers })));
    const sealed = encryptValue(ann.subject, made.keys.get(ann.subject)!, 'email', 'ann@example.com');
    const backup = pg.backup();

    const forget = await cli('privacy', 'forget', '--email', 'ann@example.com');
    expect(forget.code, forget.output).toBe(0);
    expect(forget.stdout).toMatch(/: 1 subject\(s\) forgotten, 1 key\(s\) deleted, 2 identifier\(s\) suppressed,/);
    expect(await store.existingKeys([ann.subject])).toEqual(new Map());

    // The restore brings her key back: her values are readable again, her identifiers no longer suppressed.
    await store.close();
    pg.restore(backup);
    store = new KeyStore({ ...config, keyStoreUrl: pg.adminUrl }, namespace, config.kek!);
    const restored = await store.existingKeys([ann.subject]);
    expect(decryptValue(sealed, restored.get(ann.subject)!, 'email')).toBe('ann@example.com');
    expect(await store.suppressedAmong(ann.identifiers)).toEqual(new Set());

    const replay = await cli('privacy', 'replay');
    expect(replay.code, replay.output).toBe(0);
    expect(replay.stdout).toBe('1 erasure(s) applied again, 1 restored key(s) destroyed\n');
    expect(await store.existingKeys([ann.subject, bob.subject])).toEqual(new Map([[bob.subject, made.keys.get(bob.subject)]]));
    expect(await store.suppressedAmong([ann.subject, ...ann.identifiers, bob.subject])).toEqual(new Set([ann.subject, ...ann.identifiers]));
    // Her records sent again get no key; Bob's still do.
    const again = await store.admit([ann, bob].map((p) => ({ ...p, unlinked: [] })));
    expect([...again.keys.keys()]).toEqual([bob.subject]);

    // Applying the log twice changes nothing more.
    expect((await cli('privacy', 'replay')).stdout).toBe('1 erasure(s) applied again, 0 restored key(s) destroyed\n');
    expect(JSON.parse((await cli('privacy', 'replay', '--json')).stdout)).toEqual({ erasures: 1, keysDestroyed: 0 });
    // The log holds pseudonyms only.
    const logged = fs.readFileSync(path.join(storage, (fs.readdirSync(storage, { recursive: true }) as string[]).find((f) => f.endsWith('.json'))!), 'utf8');
    expect(logged).toContain(ann.subject);
    expect(logged).not.toMatch(/ann@|example\.com|C-ANN/);
  });
});
