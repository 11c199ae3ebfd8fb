/**
 * The image's file tree without a Docker engine: the Dockerfile's runtime stage read and followed —
 * each COPY (from the build stage: from this checkout's dist/, which `npm run build` made) and each
 * RUN npm/npx step — into a folder. Tests run `c360` from that folder to prove the image needs no
 * dev dependency and is configured by environment alone (test/deploy/).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../../src/contracts/project.js';

/** The runtime stage's instructions, in order: what to copy (sources relative to the checkout, a destination in the tree), and the npm commands to run. */
function runtimeSteps(dockerfile: string): Array<{ copy: string[]; to: string } | { run: string }> {
  const lines = dockerfile.split('\n');
  const start = lines.findIndex((l) => /^FROM \S+ AS runtime$/.test(l));
  if (start < 0) throw new Error('the Dockerfile has no runtime stage');
  const steps: Array<{ copy: string[]; to: string } | { run: string }> = [];
  for (const line of lines.slice(start + 1)) {
    const words = line.trim().split(/\s+/);
    if (words[0] === 'COPY') {
      const fromBuild = words[1] === '--from=build';
      const args = words.slice(fromBuild ? 2 : 1);
      // The build stage's /src is this checkout, once `npm run build` has run.
      steps.push({ copy: args.slice(0, -1).map((a) => (fromBuild ? a.replace(/^\/src\//, '') : a)), to: args.at(-1)! });
    }
    // npm and npx steps only (the package manager's cache cleaning is for the image's size, not its content).
    if (words[0] === 'RUN' && words[1] === 'npm')
      steps.push({
        run: line
          .trim()
          .slice(4)
          .replace(/ && npm cache clean --force$/, ''),
      });
  }
  return steps;
}

/** Builds the tree under `dir` (made empty first) and returns `dir`; `c360` is then `node <dir>/bin/c360.js`. */
export function buildProductionTree(dir: string): string {
  const root = projectRoot();
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  for (const step of runtimeSteps(fs.readFileSync(path.join(root, 'Dockerfile'), 'utf8'))) {
    if ('copy' in step) {
      for (const from of step.copy) {
        // `COPY a b ./` puts each under its own name; `COPY a ./x` puts a at x.
        const target = step.to.endsWith('/') ? path.join(dir, step.to, path.basename(from)) : path.join(dir, step.to);
        fs.cpSync(path.join(root, from), target, { recursive: true });
      }
    } else {
      execFileSync('sh', ['-c', step.run], { cwd: dir, stdio: 'pipe' });
    }
  }
  return dir;
}
