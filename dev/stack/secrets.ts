/**
 * Development secrets: a random C360_PII_KEY in <C360_HOME>/secrets/pii.key, made once, readable by
 * its owner only, so a checkout runs without setting it. Production sets C360_PII_KEY (or mounts
 * C360_PII_KEY_FILE) from its own secret store; losing it unlinks every pseudonym made with it.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export function ensureDevSecrets(home: string): string {
  const file = path.join(home, 'secrets', 'pii.key');
  if (!fs.existsSync(file)) {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    fs.writeFileSync(file, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  }
  return file;
}
