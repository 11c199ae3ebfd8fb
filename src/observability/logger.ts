/**
 * JSON logs through pino. Personal data must never reach info level or above, so every
 * field that can carry it is redacted wherever it appears in a log object; code that
 * needs to show a record logs its ids, never its values.
 */

import { logLevel as kafkaLogLevel, type LogEntry, type logCreator } from 'kafkajs';
import { type LevelWithSilent, type Logger, pino } from 'pino';
import { PERSONAL_FIELDS } from './personal-data.js';

export type { Logger } from 'pino';

/** Redaction paths: each personal field at the top level and up to two levels down, plus raw payloads. */
const REDACT_PATHS = [
  ...PERSONAL_FIELDS,
  ...PERSONAL_FIELDS.map((f) => `*.${f}`),
  ...PERSONAL_FIELDS.map((f) => `*.*.${f}`),
  'value',
  'record',
  'payload',
  'password',
  'sasl.password',
  '*.value',
  '*.record',
  '*.payload',
  '*.password',
];

export function createLogger(level: LevelWithSilent = 'info', destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'c360-ingest' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}

/** For commands whose stdout is their answer (ls, show, replay, ingest): logs go to stderr. */
export function toolLogger(level: LevelWithSilent = 'info'): Logger {
  return createLogger(level, pino.destination({ fd: 2, sync: true }));
}

const KAFKA_TO_PINO: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [kafkaLogLevel.NOTHING]: 'debug',
  [kafkaLogLevel.ERROR]: 'error',
  [kafkaLogLevel.WARN]: 'warn',
  [kafkaLogLevel.INFO]: 'info',
  [kafkaLogLevel.DEBUG]: 'debug',
};

/** Routes KafkaJS' own log lines into pino, one child logger per KafkaJS namespace. */
/**
 * Two KafkaJS lines that describe normal operation, logged at debug instead:
 * - a warning whenever an idempotent producer has a finite retry count. Ours are transactional (a
 *   failed send aborts the transaction and is redone) or report the failure to their caller (the
 *   collector answers 503): nothing is lost silently;
 * - CONCURRENT_TRANSACTIONS, which the broker answers while it still writes the previous
 *   transaction's markers; KafkaJS retries it, and a transaction right after a commit meets it.
 */
const EXPECTED = /^Limiting retries for the idempotent producer|another concurrent operation on the same transaction/;

export function kafkaLogCreator(logger: Logger): logCreator {
  return () =>
    ({ namespace, level, log }: LogEntry) => {
      const { message, timestamp: _ts, logger: _name, ...extra } = log;
      const expected = EXPECTED.test(message) || (typeof extra.error === 'string' && EXPECTED.test(extra.error));
      const pinoLevel = expected ? 'debug' : (KAFKA_TO_PINO[level] ?? 'info');
      logger[pinoLevel]({ kafkajs: namespace, ...extra }, message);
    };
}

/** The KafkaJS level that matches a pino level, so KafkaJS does not build lines pino would drop. */
export function kafkaLevelFor(level: string): kafkaLogLevel {
  switch (level) {
    case 'trace':
    case 'debug':
      return kafkaLogLevel.DEBUG;
    case 'info':
      return kafkaLogLevel.INFO;
    case 'warn':
      return kafkaLogLevel.WARN;
    case 'silent':
      return kafkaLogLevel.NOTHING;
    default:
      return kafkaLogLevel.ERROR;
  }
}
