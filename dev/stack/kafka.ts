/**
 * Apache Kafka in KRaft mode, run from the Maven Central jars: the single combined broker +
 * controller that the demo and the tests use (with `stack up --secure`, TLS, mutual-TLS and SASL
 * listeners beside its plain one), and the three-node cluster of `stack up --brokers 3` (each node
 * a broker and a voter of one controller quorum) for the failure tests.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { StackError } from '../../src/contracts/errors.js';
import { projectRoot } from '../../src/contracts/project.js';
import { kafkaAnswers } from '../../src/observability/probes.js';
import { mavenFetch } from './maven.js';
import type { StackPart } from './part.js';
import type { StackPaths } from './paths.js';
import { requireJava } from './prerequisites.js';
import { ensureStackTls, type StackTls } from './tls.js';
import {
  CLUSTER_CONTROLLER_PORT,
  CLUSTER_KAFKA_PORT,
  CLUSTER_SIZE,
  KAFKA_CONTROLLER_PORT,
  KAFKA_MTLS_PORT,
  KAFKA_PORT,
  KAFKA_SASL_PORT,
  KAFKA_SCRAM_PASSWORD,
  KAFKA_SCRAM_USER,
  KAFKA_TLS_PORT,
  KAFKA_VERSION,
  LOOPBACK,
} from './versions.js';

interface KafkaNode {
  /** The stack part's name, its pid file and its log. */
  name: string;
  /** Its folder under the state folder: server.properties, data/. */
  dir: string;
  nodeId: number;
  port: number;
  controllerPort: number;
  /** Every voter of the controller quorum, `id@host:port`. */
  voters: string;
  /** Replicas of the internal topics (offsets, transactions) and the default for new topics. */
  replicas: number;
  /** With `stack up --secure`, the single broker carries the secured listeners the clients' TLS and SASL settings are tested against. */
  secured: boolean;
  heap: string;
}

const SASL_JAAS = {
  scram: 'org.apache.kafka.common.security.scram.ScramLoginModule required;',
  // No server callback handler named: Kafka validates tokens with its unsecured-JWS validator (alg "none"), as it ships for testing.
  oauthbearer: 'org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub="broker";',
};

function securedListeners(tls: StackTls): { listeners: string; protocols: string; settings: string[] } {
  return {
    listeners: `TLS://${LOOPBACK}:${KAFKA_TLS_PORT},MTLS://${LOOPBACK}:${KAFKA_MTLS_PORT},SASL://${LOOPBACK}:${KAFKA_SASL_PORT}`,
    protocols: 'TLS:SSL,MTLS:SSL,SASL:SASL_SSL',
    settings: [
      // The stack's own CA (dev/stack/tls.ts) signs the broker's certificate and the client's.
      'ssl.keystore.type=PEM',
      `ssl.keystore.location=${tls.brokerKeystore}`,
      'ssl.truststore.type=PEM',
      `ssl.truststore.location=${tls.ca}`,
      'listener.name.mtls.ssl.client.auth=required',
      'listener.name.sasl.sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER',
      `listener.name.sasl.scram-sha-256.sasl.jaas.config=${SASL_JAAS.scram}`,
      `listener.name.sasl.scram-sha-512.sasl.jaas.config=${SASL_JAAS.scram}`,
      `listener.name.sasl.oauthbearer.sasl.jaas.config=${SASL_JAAS.oauthbearer}`,
    ],
  };
}

function serverProperties(node: KafkaNode, dataDir: string, tls: StackTls | undefined): string {
  const plain = `PLAINTEXT://${LOOPBACK}:${node.port}`;
  const secured = tls ? securedListeners(tls) : undefined;
  const minIsr = Math.min(2, node.replicas);
  return [
    'process.roles=broker,controller',
    `node.id=${node.nodeId}`,
    `controller.quorum.voters=${node.voters}`,
    `listeners=${plain},CONTROLLER://${LOOPBACK}:${node.controllerPort}${secured ? `,${secured.listeners}` : ''}`,
    `advertised.listeners=${plain}${secured ? `,${secured.listeners}` : ''}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    `listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT${secured ? `,${secured.protocols}` : ''}`,
    ...(secured?.settings ?? []),
    `log.dirs=${dataDir}`,
    'num.partitions=3',
    // Internal topics must fit the node count, or transactions and groups never start; on the cluster, as production runs them.
    `offsets.topic.replication.factor=${node.replicas}`,
    `transaction.state.log.replication.factor=${node.replicas}`,
    `transaction.state.log.min.isr=${minIsr}`,
    `share.coordinator.state.topic.replication.factor=${node.replicas}`,
    `share.coordinator.state.topic.min.isr=${minIsr}`,
    `default.replication.factor=${node.replicas}`,
    `min.insync.replicas=${minIsr}`,
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

/** Kafka's jars, fetched once per process (a Maven run takes seconds; every node and tool shares the result). */
const fetchedLibs = new Map<string, string>();
function kafkaLibs(paths: StackPaths): string {
  let classpath = fetchedLibs.get(paths.cache);
  if (!classpath) {
    requireJava();
    const libs = path.join(paths.cache, `kafka-${KAFKA_VERSION}`);
    mavenFetch(libs, 'copy-dependencies', { 'kafka.version': KAFKA_VERSION, includeScope: 'runtime' }, `Apache Kafka ${KAFKA_VERSION}`);
    fetchedLibs.set(paths.cache, (classpath = `${libs}/*`));
  }
  return classpath;
}

const log4j = () => `-Dlog4j2.configurationFile=${path.join(projectRoot(), 'stack', 'kafka-log4j2.properties')}`;

/** Runs one of Kafka's own command-line tools (kafka.tools.StorageTool, kafka.admin.ConfigCommand) from the jars. */
function kafkaTool(paths: StackPaths, what: string, args: string[]): void {
  const r = spawnSync('java', [log4j(), '-cp', kafkaLibs(paths), ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new StackError(`${what} failed: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' ')}`);
}

/** The cluster id all nodes of one cluster are formatted with, kept beside their folders. */
function clusterId(idFile: string): string {
  if (!fs.existsSync(idFile)) {
    fs.mkdirSync(path.dirname(idFile), { recursive: true });
    // Kafka cluster ids are 16 random bytes in URL-safe base64, as `kafka-storage random-uuid` prints them.
    fs.writeFileSync(idFile, randomBytes(16).toString('base64url'));
  }
  return fs.readFileSync(idFile, 'utf8').trim();
}

function kafkaNodePart(node: KafkaNode, clusterIdFile: (paths: StackPaths) => string): StackPart {
  const address = `${LOOPBACK}:${node.port}`;
  return {
    name: node.name,
    address,
    // A CI machine once needed more than 120 s (not reproduced here, where a cold start takes 20–25 s).
    readyTimeoutMs: 240_000,
    answers: () => kafkaAnswers({ brokers: [address], ssl: false }),
    prepare(paths: StackPaths) {
      const classpath = kafkaLibs(paths);
      const home = path.join(paths.state, node.dir);
      const dataDir = path.join(home, 'data');
      const properties = path.join(home, 'server.properties');
      fs.mkdirSync(home, { recursive: true });
      fs.writeFileSync(properties, serverProperties(node, dataDir, node.secured ? ensureStackTls(paths.state) : undefined));
      if (!fs.existsSync(path.join(dataDir, 'meta.properties'))) {
        kafkaTool(paths, `Formatting Kafka storage in ${dataDir}`, [
          'kafka.tools.StorageTool',
          'format',
          '-t',
          clusterId(clusterIdFile(paths)),
          '-c',
          properties,
        ]);
      }
      return {
        name: node.name,
        command: 'java',
        args: [
          '-Xms512m',
          `-Xmx${node.heap}`,
          '-XX:+UseG1GC',
          '-XX:MaxGCPauseMillis=20',
          '-Djava.awt.headless=true',
          log4j(),
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
}

/** Whether something accepts TCP connections at the port (a listener, whatever its protocol). */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: LOOPBACK, port, timeout: 1_000 }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
    socket.on('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

const singleBroker = (secured: boolean): StackPart =>
  kafkaNodePart(
    {
      name: 'kafka',
      dir: 'kafka',
      nodeId: 1,
      port: KAFKA_PORT,
      controllerPort: KAFKA_CONTROLLER_PORT,
      voters: `1@${LOOPBACK}:${KAFKA_CONTROLLER_PORT}`,
      replicas: 1,
      secured,
      // The test suite makes about a thousand topics of 1–3 partitions in one run: 512 MiB ran out of heap (seen in CI).
      heap: '2g',
    },
    (paths) => path.join(paths.state, 'kafka', 'cluster-id'),
  );

/** The single broker with its plain listener only: the demo and development. A broker already running with more listeners serves as it is. */
export const kafkaPart: StackPart = singleBroker(false);

/** The same broker with TLS, mutual-TLS and SASL_SSL listeners (`stack up --secure`); a broker running without them is restarted with them, its data kept. */
export const securedKafkaPart: StackPart = {
  ...singleBroker(true),
  answers: async () => (await kafkaPart.answers()) && (await securedListenersOpen()),
  outdated: () => kafkaPart.answers(),
  afterReady(paths: StackPaths) {
    // The SCRAM user is metadata of the cluster: made once (ConfigCommand), remembered by a marker beside the data.
    const marker = path.join(paths.state, 'kafka', 'data', '.c360-scram-user');
    if (fs.existsSync(marker)) return;
    // One mechanism per request: the broker refuses two credentials of one user altered together.
    for (const mechanism of ['SCRAM-SHA-256', 'SCRAM-SHA-512']) {
      kafkaTool(paths, `Creating the ${mechanism} user ${KAFKA_SCRAM_USER}`, [
        'kafka.admin.ConfigCommand',
        '--bootstrap-server',
        `${LOOPBACK}:${KAFKA_PORT}`,
        '--alter',
        '--entity-type',
        'users',
        '--entity-name',
        KAFKA_SCRAM_USER,
        '--add-config',
        `${mechanism}=[password=${KAFKA_SCRAM_PASSWORD}]`,
      ]);
    }
    fs.writeFileSync(marker, `${KAFKA_SCRAM_USER}\n`);
  },
};

/** The secured listeners' ports (TLS, mutual TLS, SASL_SSL) all accept connections. */
export async function securedListenersOpen(): Promise<boolean> {
  for (const port of [KAFKA_TLS_PORT, KAFKA_MTLS_PORT, KAFKA_SASL_PORT]) if (!(await listening(port))) return false;
  return true;
}

/** `KAFKA_BROKERS` for the three-broker cluster. */
export const CLUSTER_BROKERS = Array.from({ length: CLUSTER_SIZE }, (_, i) => `${LOOPBACK}:${CLUSTER_KAFKA_PORT + i}`);

/** The nodes of the three-broker cluster, `kafka-1` to `kafka-3`. */
export const clusterParts: readonly StackPart[] = Array.from({ length: CLUSTER_SIZE }, (_, i) =>
  kafkaNodePart(
    {
      name: `kafka-${i + 1}`,
      dir: path.join('kafka-cluster', `node-${i + 1}`),
      nodeId: i + 1,
      port: CLUSTER_KAFKA_PORT + i,
      controllerPort: CLUSTER_CONTROLLER_PORT + i,
      voters: Array.from({ length: CLUSTER_SIZE }, (_, j) => `${j + 1}@${LOOPBACK}:${CLUSTER_CONTROLLER_PORT + j}`).join(','),
      replicas: CLUSTER_SIZE,
      secured: false,
      heap: '768m',
    },
    (paths) => path.join(paths.state, 'kafka-cluster', 'cluster-id'),
  ),
);
