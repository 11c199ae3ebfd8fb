/** Apache Kafka in KRaft mode: one combined broker + controller on loopback, run from the Maven Central jars. */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { StackError } from '../../src/contracts/errors.js';
import { projectRoot } from '../../src/contracts/project.js';
import { kafkaAnswers } from '../../src/observability/probes.js';
import { mavenFetch } from './maven.js';
import type { StackPart } from './part.js';
import type { StackPaths } from './paths.js';
import { requireJava } from './prerequisites.js';
import { ensureStackTls, type StackTls } from './tls.js';
import { KAFKA_CONTROLLER_PORT, KAFKA_MTLS_PORT, KAFKA_PORT, KAFKA_TLS_PORT, KAFKA_VERSION, LOOPBACK } from './versions.js';

const BROKER = `${LOOPBACK}:${KAFKA_PORT}`;

function serverProperties(dataDir: string, tls: StackTls): string {
  const secure = `TLS://${LOOPBACK}:${KAFKA_TLS_PORT},MTLS://${LOOPBACK}:${KAFKA_MTLS_PORT}`;
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@${LOOPBACK}:${KAFKA_CONTROLLER_PORT}`,
    `listeners=PLAINTEXT://${BROKER},CONTROLLER://${LOOPBACK}:${KAFKA_CONTROLLER_PORT},${secure}`,
    `advertised.listeners=PLAINTEXT://${BROKER},${secure}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,TLS:SSL,MTLS:SSL',
    // Secured listeners for the clients' TLS settings to be tested against: the stack's own CA (dev/stack/tls.ts).
    'ssl.keystore.type=PEM',
    `ssl.keystore.location=${tls.brokerKeystore}`,
    'ssl.truststore.type=PEM',
    `ssl.truststore.location=${tls.ca}`,
    'listener.name.mtls.ssl.client.auth=required',
    `log.dirs=${dataDir}`,
    'num.partitions=3',
    // One node: every internal topic must live with a replication factor of 1, or transactions and groups never start.
    'offsets.topic.replication.factor=1',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'share.coordinator.state.topic.replication.factor=1',
    'share.coordinator.state.topic.min.isr=1',
    'default.replication.factor=1',
    'min.insync.replicas=1',
    // Topics are created by `c360 topics create`, so a mistyped topic name fails instead of appearing.
    'auto.create.topics.enable=false',
    'group.initial.rebalance.delay.ms=0',
    // Below the broker's 6 s default, so crash tests move a killed worker's partitions within a couple of seconds.
    'group.min.session.timeout.ms=1000',
    'log.retention.hours=168',
    'log.segment.bytes=268435456',
    'message.max.bytes=2097152',
    '',
  ].join('\n');
}

export const kafkaPart: StackPart = {
  name: 'kafka',
  address: BROKER,
  readyTimeoutMs: 120_000,
  answers: () => kafkaAnswers({ brokers: [BROKER], ssl: false }),
  prepare(paths: StackPaths) {
    requireJava();
    const libs = path.join(paths.cache, `kafka-${KAFKA_VERSION}`);
    mavenFetch(libs, 'copy-dependencies', { 'kafka.version': KAFKA_VERSION, includeScope: 'runtime' }, `Apache Kafka ${KAFKA_VERSION}`);
    const home = path.join(paths.state, 'kafka');
    const dataDir = path.join(home, 'data');
    const properties = path.join(home, 'server.properties');
    fs.mkdirSync(home, { recursive: true });
    fs.writeFileSync(properties, serverProperties(dataDir, ensureStackTls(paths.state)));
    const classpath = `${libs}/*`;
    const log4j = `-Dlog4j2.configurationFile=${path.join(projectRoot(), 'stack', 'kafka-log4j2.properties')}`;
    if (!fs.existsSync(path.join(dataDir, 'meta.properties'))) {
      // Kafka cluster ids are 16 random bytes in URL-safe base64, as `kafka-storage random-uuid` prints them.
      const clusterId = randomBytes(16).toString('base64url');
      const format = spawnSync('java', [log4j, '-cp', classpath, 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', properties], {
        encoding: 'utf8',
      });
      if (format.status !== 0) {
        throw new StackError(`Formatting Kafka storage in ${dataDir} failed: ${(format.stderr || format.stdout).trim().split('\n').slice(-3).join(' ')}`);
      }
    }
    return {
      name: 'kafka',
      command: 'java',
      args: [
        // The test suite makes about a thousand topics of 1–3 partitions in one run: 512 MiB ran out of heap (seen in CI).
        '-Xms512m',
        '-Xmx2g',
        '-XX:+UseG1GC',
        '-XX:MaxGCPauseMillis=20',
        '-Djava.awt.headless=true',
        log4j,
        `-Dkafka.logs.dir=${home}`,
        '-cp',
        classpath,
        'kafka.Kafka',
        properties,
      ],
      cwd: home,
      marker: properties,
    };
  },
};
