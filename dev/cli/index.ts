/**
 * The commands of a development checkout: the local stack and the demo. bin/c360.js adds them
 * when dist/dev exists; a production install (the container image) has only src/.
 */
import type { Command } from 'commander';
import { registerDemoCommands } from './demo.js';
import { registerStackCommands } from './stack.js';

export function registerDevCommands(program: Command): void {
  registerStackCommands(program);
  registerDemoCommands(program);
}
