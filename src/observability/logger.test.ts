import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';

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
