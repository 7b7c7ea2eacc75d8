// Every suite fails on an uncaught exception or unhandled rejection: XState reports unobserved
// actor errors by throwing on a timer, and that must never go unnoticed in a test.
// Vitest already reports both as errors that fail the run; the listeners here make the failure
// name the test file, and make sure no library swallowed them by installing its own handler.
const failures: unknown[] = [];
process.on('uncaughtException', (error) => {
  failures.push(error);
});
process.on('unhandledRejection', (reason) => {
  failures.push(reason);
});

import { afterAll } from 'vitest';

afterAll(() => {
  if (failures.length > 0) {
    const first = failures[0];
    throw new Error(
      `${failures.length} uncaught exception(s) or unhandled rejection(s) during this file; first: ${
        first instanceof Error ? first.stack : String(first)
      }`,
    );
  }
});
