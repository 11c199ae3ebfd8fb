/**
 * Components registered by name, Redpanda Connect style: stages, quality rules, input formats,
 * connectors and storage backends are each declared once, in a file of their own, with the
 * schema of their options beside them. Topologies, settings files and the CLI name them;
 * docs/reference.md is generated from the registrations (`npm run docs`).
 */
import type { z } from 'zod';
import { ConfigError } from './contracts/errors.js';
import { validated } from './contracts/validation.js';

export interface ComponentSpec {
  name: string;
  /** One or two sentences for the reference. */
  description: string;
  /** The options' schema, when the component takes any; defaults are filled in by it. */
  options?: z.ZodType;
}

export class ComponentRegistry<Spec extends ComponentSpec> {
  private readonly specs = new Map<string, Spec>();

  /** `kind` names the components in messages and in the reference: "stage", "quality rule"… */
  constructor(readonly kind: string) {}

  register(...specs: Spec[]): this {
    for (const spec of specs) {
      if (this.specs.has(spec.name)) throw new Error(`${this.kind} ${spec.name} is registered twice`);
      this.specs.set(spec.name, spec);
    }
    return this;
  }

  get(name: string): Spec | undefined {
    return this.specs.get(name);
  }

  /** The component, or one sentence naming the setting that asked for it and the known names. */
  require(name: string, setting: string): Spec {
    const spec = this.specs.get(name);
    if (!spec) throw new ConfigError(`${setting} "${name}" is not a known ${this.kind} (known: ${this.names().join(', ')}).`);
    return spec;
  }

  names(): string[] {
    return [...this.specs.keys()];
  }

  all(): Spec[] {
    return [...this.specs.values()];
  }
}

/** Options validated against a component's schema; the first problem is one sentence naming its path under `setting`. */
export function validateOptions<S extends z.ZodType>(schema: S, input: unknown, setting: string): z.output<S> {
  return validated(schema, input, (path, message) => `${setting}${path ? `.${path}` : ''}: ${message}`);
}
