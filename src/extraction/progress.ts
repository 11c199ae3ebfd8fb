/** Progress of a file ingest: a bar redrawn in place on a terminal, a plain line every few seconds otherwise. */
import type { IngestProgress } from './file-ingest.js';

const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;

export function progressReporter(label: string, stream: NodeJS.WriteStream = process.stderr): { update(p: IngestProgress): void; done(): void } {
  const started = Date.now();
  let lastPlain = 0;
  return {
    update(p) {
      const seconds = Math.max((Date.now() - started) / 1000, 0.001);
      const rate = Math.round(p.rows / seconds);
      const share = p.totalBytes > 0 ? Math.min(p.bytesRead / p.totalBytes, 1) : 0;
      if (stream.isTTY) {
        const width = 24;
        const filled = Math.round(share * width);
        stream.write(
          `\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(share * 100).toFixed(0).padStart(3)}%  ${p.rows} rows  ${rate} rows/s  ${mib(p.bytesRead)} / ${mib(p.totalBytes)}\x1b[K`,
        );
      } else if (Date.now() - lastPlain >= 5_000) {
        lastPlain = Date.now();
        stream.write(`${label}: ${p.rows} rows, ${rate} rows/s, ${mib(p.bytesRead)} of ${mib(p.totalBytes)}\n`);
      }
    },
    done() {
      if (stream.isTTY) stream.write('\r\x1b[K');
    },
  };
}
