/**
 * Development secrets: a random C360_PII_KEY and C360_KEK in <C360_HOME>/secrets/, made once,
 * readable by their owner only, so a checkout runs without setting them. Production sets them (or
 * mounts the _FILE variants) from its own secret store: losing the PII key unlinks every pseudonym,
 * losing the KEK makes every subject's data unreadable.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export function ensureDevSecrets(home: string): void {
  for (const name of ['pii.key', 'kek.key']) {
    const file = path.join(home, 'secrets', name);
    if (fs.existsSync(file)) continue;
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    fs.writeFileSync(file, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  }
}
