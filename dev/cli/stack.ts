import { type Command, InvalidArgumentError } from 'commander';
import { report, withJson } from '../../src/cli/options.js';
import { loadConfig } from '../../src/config.js';
import { type Brokers, stackDown, stackStatus, stackUp } from '../stack/index.js';
import { CLUSTER_BROKERS } from '../stack/kafka.js';
import { stackPaths } from '../stack/paths.js';
import { sftpPaths } from '../stack/sftp.js';
import { KAFKA_MTLS_PORT, KAFKA_SASL_PORT, KAFKA_TLS_PORT, LOOPBACK, SFTP_PORT, SFTP_USER } from '../stack/versions.js';

function brokersOption(value: string): Brokers {
  if (value === '1' || value === '3') return Number(value) as Brokers;
  throw new InvalidArgumentError('Must be 1 (the single broker) or 3 (the three-broker cluster).');
}

export function registerStackCommands(program: Command): void {
  const stack = program
    .command('stack')
    .description(
      'Run a local Kafka (KRaft: one broker, or a three-broker cluster beside it), Apicurio schema registry, Redis and S3Mock on loopback, for tests, the demo and development.',
    );

  stack
    .command('up')
    .description('Fetch (once, from Maven Central) and start every part that does not already answer; waits until each is ready.')
    .option('--brokers <n>', 'Kafka as one broker (1) or as a cluster of three brokers with one controller quorum (3)', brokersOption, 1)
    .option(
      '--secure',
      'the single broker also listens with TLS, mutual TLS and SASL_SSL (SCRAM, OAUTHBEARER), certificates from a CA made at start; a broker running without them is restarted',
      false,
    )
    .option('--sftp', 'also an SFTP drop: OpenSSH on loopback, a chrooted SFTP-only user whose home is a landing zone (run as root)', false)
    .action(async (options: { brokers: Brokers; secure: boolean; sftp: boolean }) => {
      const { home } = loadConfig();
      const t0 = Date.now();
      const reports = await stackUp(home, (line) => console.log(line), options);
      for (const r of reports) {
        const timing = r.action === 'started' ? ` (prepare ${(r.prepareMs / 1000).toFixed(1)}s, ready after ${(r.readyMs / 1000).toFixed(1)}s)` : '';
        console.log(`  ${r.name.padEnd(9)} ${r.address.padEnd(44)} ${r.action}${timing}`);
      }
      console.log(`stack up in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
      if (options.secure) {
        console.log(
          `secured listeners: TLS ${LOOPBACK}:${KAFKA_TLS_PORT}, mutual TLS ${LOOPBACK}:${KAFKA_MTLS_PORT}, SASL_SSL ${LOOPBACK}:${KAFKA_SASL_PORT}; CA and client certificate in ${stackPaths(home).state}/tls`,
        );
      }
      if (options.sftp) {
        const p = sftpPaths(stackPaths(home));
        console.log(
          `SFTP drop: sftp -i ${p.clientKey} -P ${SFTP_PORT} ${SFTP_USER}@${LOOPBACK} (files land under ${p.landing}/<source>/); watch it with: npx c360 watch ${p.landing}`,
        );
      }
      if (options.brokers === 3) console.log(`three brokers: for c360 commands in this shell, export KAFKA_BROKERS=${CLUSTER_BROKERS.join(',')}`);
    });

  stack
    .command('down')
    .description('Stop the processes that `stack up` started (and nothing else).')
    .option('--purge', "also delete the broker's data, for a clean start", false)
    .action(async (options: { purge: boolean }) => {
      const { home } = loadConfig();
      for (const r of await stackDown(home, options)) console.log(`  ${r.name.padEnd(9)} ${r.stopped ? 'stopped' : 'was not started by c360'}`);
    });

  withJson(
    stack
      .command('status')
      .description('Show each part of the stack, its address and whether it answers (exit 3 if one does not).')
      .option('--brokers <n>', 'the shape to check: one broker (1) or the three-broker cluster (3)', brokersOption, 1),
  ).action(async (options: { brokers: Brokers; json: boolean }) => {
    const { home } = loadConfig();
    const statuses = await stackStatus(home, options.brokers);
    report(options, { parts: statuses }, () => {
      for (const s of statuses) console.log(`  ${s.name.padEnd(9)} ${s.address.padEnd(44)} ${s.state}${s.pid ? ` pid ${s.pid}` : ''}`);
    });
    if (statuses.some((s) => s.state !== 'running (started by c360)' && s.state !== 'running (not started by c360)')) process.exitCode = 3;
  });
}
