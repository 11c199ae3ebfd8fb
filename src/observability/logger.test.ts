import { Writable } from 'node:stream';
import { logLevel as kafkaLogLevel } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { createLogger, kafkaLogCreator } from './logger.js';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { logger: createLogger('debug', stream), lines };
}

describe('logger redaction', () => {
  it('never writes personal data, at any depth it is logged at', () => {
    const { logger, lines } = capture();
    logger.info({ email: 'ann@example.com', customer: { phone: '+353861234567', first_name: 'Ann' }, batch: { record: { last_name: 'Lee' } } }, 'profile seen');
    logger.warn({ value: Buffer.from('raw ann@example.com'), source: 'crm' }, 'bad record');
    const out = lines.join('');
    for (const secret of ['ann@example.com', '+353861234567', 'Ann', 'Lee']) expect(out).not.toContain(secret);
    expect(out).toContain('"source":"crm"');
    // email, customer.phone, customer.first_name, batch.record (whole) and value
    expect(out.match(/\[redacted\]/g)?.length).toBe(5);
  });
});

describe('KafkaJS log bridge', () => {
  it('logs what KafkaJS reports at its level, but expected retried conditions at debug', () => {
    const { logger, lines } = capture();
    const log = kafkaLogCreator(logger)(kafkaLogLevel.INFO);
    const entry = (level: kafkaLogLevel, message: string, extra: Record<string, unknown> = {}) =>
      log({ namespace: 'Producer', level, label: '', log: { timestamp: '', logger: 'kafkajs', message, ...extra } });
    entry(kafkaLogLevel.ERROR, 'Response AddPartitionsToTxn(key: 24, version: 1)', {
      error: 'The producer attempted to update a transaction while another concurrent operation on the same transaction was ongoing',
    });
    entry(kafkaLogLevel.WARN, 'Limiting retries for the idempotent producer may invalidate EoS guarantees');
    entry(kafkaLogLevel.ERROR, 'Connection timeout');
    const levels = lines.map((l) => (JSON.parse(l) as { level: string }).level);
    expect(levels).toEqual(['debug', 'debug', 'error']);
  });
});
