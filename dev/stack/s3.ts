/**
 * Adobe S3Mock, an S3-compatible server, from its Maven Central executable jar: the local target
 * of the raw layer's S3 backend. Plain HTTP on loopback; files under the stack's state folder.
 */
import fs from 'node:fs';
import path from 'node:path';
import { s3Answers } from '../../src/observability/probes.js';
import { mavenFetch } from './maven.js';
import type { StackPart } from './part.js';
import type { StackPaths } from './paths.js';
import { requireJava } from './prerequisites.js';
import { LOOPBACK, S3_BUCKET, S3_PORT, S3MOCK_VERSION } from './versions.js';

export const S3_URL = `http://${LOOPBACK}:${S3_PORT}`;

export const s3Part: StackPart = {
  name: 's3',
  address: S3_URL,
  readyTimeoutMs: 90_000,
  answers: () => s3Answers(S3_URL),
  prepare(paths: StackPaths) {
    requireJava();
    const home = path.join(paths.cache, `s3mock-${S3MOCK_VERSION}`);
    mavenFetch(home, 'copy', { artifact: `com.adobe.testing:s3mock:${S3MOCK_VERSION}:jar:exec` }, `S3Mock ${S3MOCK_VERSION}`);
    const jar = path.join(home, fs.readdirSync(home).find((f) => f.endsWith('.jar'))!);
    const data = path.join(paths.state, 's3');
    fs.mkdirSync(data, { recursive: true });
    const marker = `-Dc360.stack=${paths.state}`;
    return {
      name: 's3',
      command: 'java',
      args: [
        // S3Mock keeps what it knows of every object in its heap: a test run writes tens of thousands
        // of objects, and a small heap turns into back-to-back garbage collections that slow each call.
        '-Xmx1g',
        '-XX:+UseSerialGC',
        '-XX:TieredStopAtLevel=1',
        marker,
        '-jar',
        jar,
        // The main connector, plain HTTP on loopback. S3Mock also opens an extra HTTP connector that
        // cannot be bound to an address; port 0 gives it a random port that nothing uses.
        `--server.address=${LOOPBACK}`,
        `--server.port=${S3_PORT}`,
        '--server.ssl.enabled=false',
        '--com.adobe.testing.s3mock.http-port=0',
        `--com.adobe.testing.s3mock.store.initial-buckets=${S3_BUCKET}`,
        `--com.adobe.testing.s3mock.store.root=${data}`,
        '--logging.level.root=WARN',
      ],
      cwd: home,
      marker,
    };
  },
};
