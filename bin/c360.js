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
// C360_MEMORY_MB sets V8's heap limit, which only a flag at start can: the CLI runs again as a child
// with --max-old-space-size at three quarters of the budget (the rest for buffers and code), unless
// NODE_OPTIONS or the command line already set one. Signals go to the child; its exit is ours.
const budget = Number(process.env.C360_MEMORY_MB);
const heapFlagGiven = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].some((a) => a.startsWith('--max-old-space-size'));
if (Number.isInteger(budget) && budget >= 128 && !heapFlagGiven) {
  const { spawn } = await import('node:child_process');
  const child = spawn(
    process.execPath,
    [`--max-old-space-size=${Math.floor(budget * 0.75)}`, ...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)],
    {
      stdio: 'inherit',
    },
  );
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => {
    if (signal) {
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
    }
    process.exit(code ?? 1);
  });
  await new Promise(() => undefined);
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
