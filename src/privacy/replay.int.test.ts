// A key store restored from a backup brings forgotten people's keys back; `c360 privacy replay`
// applies the erasure log (kept in the object store, which the restore does not touch) again, in the
// namespace and in every copy a re-run made of it.
// Real pg_dump and pg_restore on a private PostgreSQL cluster, and the real CLI.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { config } from '../../test/support/kafka.js';
import { type PrivatePostgres, startPrivatePostgres } from '../../test/support/postgres.js';
import { testNamespace } from '../../test/support/topology.js';
import { runCli } from '../../test/support/worker.js';
import { openObjectStore } from '../storage/backends.js';
import { decryptValue, encryptValue } from './envelope-keys.js';
import { KeyStore } from './key-store.js';
import { PrivacyLog } from './privacy-log.js';
import { pseudonymsFrom } from './pseudonyms.js';
import { RecordPrivacy } from './records.js';

describe('privacy replay after the key store is restored from a backup', () => {
  const namespace = testNamespace();
  const storage = fs.mkdtempSync(path.join(os.tmpdir(), 'c360-replay-'));
  const records = new RecordPrivacy(pseudonymsFrom(config, 'test'));
  const ann = { subject: records.identifier('customer_id', 'C-ANN')!, identifiers: [records.identifier('email', 'ann@example.com')!] };
  const bob = { subject: records.identifier('customer_id', 'C-BOB')!, identifiers: [records.identifier('email', 'bob@example.com')!] };
  // A namespace a `raw rerun` copied this one into: its own keys, forgotten and replayed with it.
  const copy = `${namespace}c`;
  let pg: PrivatePostgres;
  let store: KeyStore;
  let copyStore: KeyStore;
  const cli = (...args: string[]) => runCli([...args, '--namespace', namespace, '--storage', storage], { C360_KEY_STORE_URL: pg.adminUrl });

  beforeAll(() => {
    pg = startPrivatePostgres();
    store = new KeyStore({ ...config, keyStoreUrl: pg.adminUrl }, namespace, config.kek!);
    copyStore = new KeyStore({ ...config, keyStoreUrl: pg.adminUrl }, copy, config.kek!);
  });
  afterAll(async () => {
    await store?.close();
    await copyStore?.close();
    pg?.destroy();
  });

  it('forgets again whom the restore brought back, and no one else', async () => {
    const made = await store.admit([ann, bob].map((p) => ({ ...p, unlinked: p.identifiers })));
    await copyStore.admit([ann].map((p) => ({ ...p, unlinked: p.identifiers })));
    const objects = openObjectStore({ ...config, storageUrl: storage });
    await new PrivacyLog(objects, namespace).copy(copy);
    objects.close();
    const sealed = encryptValue(ann.subject, made.keys.get(ann.subject)!, 'email', 'ann@example.com');
    const backup = pg.backup();

    const forget = await cli('privacy', 'forget', '--email', 'ann@example.com');
    expect(forget.code, forget.output).toBe(0);
    expect(forget.stdout).toMatch(/^request .+: 1 subject\(s\) forgotten, 1 key\(s\) deleted, 2 identifier\(s\) suppressed,/m);
    expect(forget.stdout).toMatch(new RegExp(`^copy ${copy}: request .+: 1 subject\\(s\\) forgotten, 1 key\\(s\\) deleted,`, 'm'));
    expect(await copyStore.existingKeys([ann.subject])).toEqual(new Map());
    expect(await store.existingKeys([ann.subject])).toEqual(new Map());

    // The restore brings her key back: her values are readable again, her identifiers no longer suppressed.
    await store.close();
    await copyStore.close();
    pg.restore(backup);
    store = new KeyStore({ ...config, keyStoreUrl: pg.adminUrl }, namespace, config.kek!);
    copyStore = new KeyStore({ ...config, keyStoreUrl: pg.adminUrl }, copy, config.kek!);
    expect([...(await copyStore.existingKeys([ann.subject])).keys()]).toEqual([ann.subject]);
    const restored = await store.existingKeys([ann.subject]);
    expect(decryptValue(sealed, restored.get(ann.subject)!, 'email')).toBe('ann@example.com');
    expect(await store.suppressedAmong(ann.identifiers)).toEqual(new Set());

    const replay = await cli('privacy', 'replay');
    expect(replay.code, replay.output).toBe(0);
    expect(replay.stdout).toBe(
      `1 erasure(s) applied again, 1 restored key(s) destroyed\ncopy ${copy}: 1 erasure(s) applied again, 1 restored key(s) destroyed\n`,
    );
    expect(await copyStore.existingKeys([ann.subject])).toEqual(new Map());
    expect(await store.existingKeys([ann.subject, bob.subject])).toEqual(new Map([[bob.subject, made.keys.get(bob.subject)]]));
    expect(await store.suppressedAmong([ann.subject, ...ann.identifiers, bob.subject])).toEqual(new Set([ann.subject, ...ann.identifiers]));
    // Her records sent again get no key; Bob's still do.
    const again = await store.admit([ann, bob].map((p) => ({ ...p, unlinked: [] })));
    expect([...again.keys.keys()]).toEqual([bob.subject]);

    // Applying the log twice changes nothing more.
    expect(JSON.parse((await cli('privacy', 'replay', '--json')).stdout)).toEqual({
      replays: [
        { namespace, erasures: 1, keysDestroyed: 0 },
        { namespace: copy, erasures: 1, keysDestroyed: 0 },
      ],
    });
    // The log holds pseudonyms only.
    const logged = fs.readFileSync(
      path.join(
        storage,
        (fs.readdirSync(storage, { recursive: true }) as string[]).find((f) => f.startsWith(`privacy/${namespace}/erasures/`) && f.endsWith('.json'))!,
      ),
      'utf8',
    );
    expect(logged).toContain(ann.subject);
    expect(logged).not.toMatch(/ann@|example\.com|C-ANN/);
  });
});
