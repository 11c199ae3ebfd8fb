#!/usr/bin/env node
// Thin launcher: the CLI is TypeScript compiled to dist/ by `npm run build` (run by `npm ci` through `prepare`).
// Signals are trapped before anything heavy loads (src/cli/early-signals.ts). A checkout also has
// dist/dev, whose commands (the local stack, the demo) are added; a production image has not.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  // npm scripts and npx find the Node 24 that `npm ci` installs (the `node` dev dependency); see the README's set-up.
  process.stderr.write(`c360 needs Node 24 or newer; this is Node ${process.versions.node}. Run it with npx c360, or put Node 24 first on PATH.\n`);
  process.exit(2);
}
// C360_MEMORY_MB sets V8's heap limits, which only flags at start can: the launcher replaces itself
// (execve: same process, so signals and the exit code are the CLI's own, and no second process's
// memory) with Node run on the CLI, unless NODE_OPTIONS or the command line already set a heap limit:
// - the young generation at 3/32 of the budget: V8 otherwise sizes it by the machine, whatever the
//   old generation's limit, and a worker would outgrow its budget;
// - the old generation at the rest less NATIVE_MIB, at least half the budget;
// - the heap let double between full collections: under a tight limit V8 otherwise collects fully
//   far more often than the live set needs, at a large cost in CPU;
// - glibc's mmap threshold fixed at its 128 KiB default (unless the environment sets it): glibc
//   raises it to the size of each large block freed, so large buffers (Kafka's fetch responses among
//   them) then come from the main heap, which fragments and is not given back.
// The commands that run as pods and scale get a budget when none is set, so a worker's memory is
// bounded by default (docs/benchmarks.md measures it); one-shot tools keep Node's own heap limit.
const WORKERS = new Set(['run', 'sink', 'collect', 'connect', 'watch']);
const DEFAULT_WORKER_BUDGET = 256;
const given = process.env.C360_MEMORY_MB;
const budget = given ? Number(given) : WORKERS.has(process.argv[2]) ? DEFAULT_WORKER_BUDGET : Number.NaN;
// What a worker holds outside V8's heap: Node itself, code, Kafka buffers, open files.
const NATIVE_MIB = 96;
const heapFlagGiven = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].some((a) => a.startsWith('--max-old-space-size'));
if (Number.isInteger(budget) && budget >= 128 && !heapFlagGiven) {
  const semiSpaceMiB = Math.min(32, Math.max(1, Math.floor(budget / 32)));
  const oldSpaceMiB = Math.max(Math.floor(budget / 2), budget - 3 * semiSpaceMiB - NATIVE_MIB);
  process.execve(
    process.execPath,
    [
      process.execPath,
      `--max-old-space-size=${oldSpaceMiB}`,
      `--max-semi-space-size=${semiSpaceMiB}`,
      '--heap-growing-percent=100',
      ...process.execArgv,
      fileURLToPath(import.meta.url),
      ...process.argv.slice(2),
    ],
    // The budget reaches the CLI's own settings too (fetch and cache sizes), given or by default.
    { MALLOC_MMAP_THRESHOLD_: '131072', ...process.env, C360_MEMORY_MB: String(budget) },
  );
}
const entry = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write('c360 is not built yet: run `npm run build` (or `npm ci`) in the project folder first.\n');
  process.exit(1);
}
(await import(new URL('../dist/src/cli/early-signals.js', import.meta.url).href)).trapSignals();
const dev = new URL('../dist/dev/cli/index.js', import.meta.url);
const extensions = existsSync(fileURLToPath(dev)) ? [(await import(dev.href)).registerDevCommands] : [];
await (await import(entry.href)).runCli(extensions);
