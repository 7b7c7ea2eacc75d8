/**
 * Field builders shared by the config sections, so that every duration, port, path and
 * environment-variable name is checked the same way and described the same way.
 */
import { z } from 'zod';

/** A duration in milliseconds (an integer >= `min`). */
export function millis(description: string, defaultMs: number, min = 0) {
  return z.number().int().min(min).default(defaultMs).describe(`${description} (milliseconds)`);
}

/** A TCP port; 0 asks the OS for a free one. */
export function port(description: string, defaultPort: number) {
  return z.number().int().min(0).max(65_535).default(defaultPort).describe(description);
}

/** A file or directory path; relative paths resolve against the config file's directory. */
export function pathField(description: string) {
  return z
    .string()
    .min(1)
    .describe(`${description}. A relative path resolves against the config file's directory`);
}

/** The name of an environment variable (never the secret itself). */
export function envName(description: string) {
  return z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected the name of an environment variable, like NATS_TOKEN')
    .describe(`${description}: the NAME of an environment variable holding it, never the value`);
}

/** For `.superRefine`: two optional fields that only make sense together. */
export function together<T extends Record<string, unknown>>(a: keyof T & string, b: keyof T & string) {
  return (value: T, ctx: z.RefinementCtx): void => {
    if ((value[a] === undefined) !== (value[b] === undefined)) {
      const missing = value[a] === undefined ? a : b;
      ctx.addIssue({ code: 'custom', path: [missing], message: `${a} and ${b} go together` });
    }
  };
}
