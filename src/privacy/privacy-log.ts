/**
 * The privacy log: every erasure (what to erase again) and every reveal of personal data (who,
 * when, what), as create-only objects beside the raw layer, under `privacy/<namespace>/`. It lives
 * in the object store, not the key store, so it outlives a key store restored from a backup —
 * which is when `c360 privacy replay` needs it — and no one can rewrite an entry without the
 * store's own write rights. Entries hold pseudonyms and counts, never a plain identifier.
 */

import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { stringifyLongJson } from '../contracts/long-json.js';
import type { ObjectStore } from '../storage/object-store.js';
import type { ErasureRecord, Reach } from './key-store.js';

/** Whoever runs the command: C360_ACTOR (a deployment sets it to the operator's identity), else the OS user and host. */
function actor(env: NodeJS.ProcessEnv = process.env): string {
  return env.C360_ACTOR?.trim() || `${os.userInfo().username}@${os.hostname()}`;
}

export interface Access {
  /** What revealed personal data: `quarantine show --unmask`, `privacy export`, `raw read`. */
  action: string;
  /** What was asked for: filters, the pseudonyms of the person, how many records were shown. */
  what: Record<string, unknown>;
}

export interface LoggedErasure extends Reach {
  requestId: string;
  requestedAt: string;
}

export class PrivacyLog {
  constructor(
    private readonly store: ObjectStore,
    private readonly namespace: string,
  ) {}

  private key(kind: 'erasures' | 'access', at: Date, id: string): string {
    return `privacy/${this.namespace}/${kind}/${at.toISOString().slice(0, 10)}/${at.toISOString()}-${id}.json`;
  }

  /** Logs an erasure with the pseudonyms needed to apply it again; logging the same request twice keeps the first. */
  async erasure(e: ErasureRecord): Promise<void> {
    const entry = {
      request_id: e.requestId,
      namespace: this.namespace,
      requested_at: e.requestedAt.toISOString(),
      subjects: e.subjects,
      identifiers: e.identifiers,
      keys_deleted: e.keysDeleted,
      redis_keys_deleted: e.redisKeysDeleted,
    };
    await this.store.putIfAbsent(this.key('erasures', e.requestedAt, e.requestId), Buffer.from(`${stringifyLongJson(entry)}\n`));
  }

  /** Every erasure logged, oldest first. */
  async erasures(): Promise<LoggedErasure[]> {
    const out: LoggedErasure[] = [];
    for (const key of await this.store.list(`privacy/${this.namespace}/erasures/`)) {
      const e = JSON.parse((await this.store.read(key)).toString('utf8')) as {
        request_id: string;
        requested_at: string;
        subjects: string[];
        identifiers: string[];
      };
      out.push({ requestId: e.request_id, requestedAt: e.requested_at, subjects: e.subjects, identifiers: e.identifiers });
    }
    return out;
  }

  /** Records a reveal before it happens: a reveal that cannot be recorded does not happen. */
  async access(a: Access, env: NodeJS.ProcessEnv = process.env): Promise<void> {
    const at = new Date();
    const entry = { at: at.toISOString(), actor: actor(env), namespace: this.namespace, action: a.action, what: a.what };
    await this.store.putIfAbsent(this.key('access', at, randomUUID()), Buffer.from(`${stringifyLongJson(entry)}\n`));
  }

  /** Notes that `namespace` holds a copy of this one's records (a re-run): a forget here reaches it too. */
  async copy(namespace: string, env: NodeJS.ProcessEnv = process.env): Promise<void> {
    const entry = { namespace, copy_of: this.namespace, at: new Date().toISOString(), actor: actor(env) };
    await this.store.putIfAbsent(`privacy/${this.namespace}/copies/${namespace}.json`, Buffer.from(`${stringifyLongJson(entry)}\n`));
  }

  /** The namespaces that hold a copy of this one's records. */
  async copies(): Promise<string[]> {
    const prefix = `privacy/${this.namespace}/copies/`;
    return (await this.store.list(prefix)).filter((k) => k.endsWith('.json')).map((k) => k.slice(prefix.length, -'.json'.length));
  }

  /** Every reveal recorded, oldest first, as stored. */
  async accesses(): Promise<Array<Record<string, unknown>>> {
    const out: Array<Record<string, unknown>> = [];
    for (const key of await this.store.list(`privacy/${this.namespace}/access/`)) out.push(JSON.parse((await this.store.read(key)).toString('utf8')));
    return out;
  }
}
