/**
 * Config section of the web console and its APIs (docs/CONSOLE.md): served by the HTTP endpoint
 * (`http.host`, `http.port`), the inspection events' history stream and the bounds that keep the
 * console from ever slowing or bloating the orchestra.
 */
import { z } from 'zod';
import { envName, millis } from '../fields.ts';

const DAY_MS = 86_400_000;
const MIB = 1024 * 1024;

export const consoleSection = z
  .object({
    enabled: z.boolean().default(true).describe('Serve the console\'s pages and /api/* on the HTTP endpoint, and record the actors\' inspection events'),
    tokenEnv: envName(
      'Token every console page and API asks for (header `Authorization: Bearer <token>`, or `?token=`) when http.host is not a loopback address; without it such a console refuses every request',
    ).optional(),
    history: z
      .object({
        maxAgeMs: millis('How long inspection events (every actor\'s state changes, every issue\'s transitions) are kept on the MIYABI_INSPECT stream', 7 * DAY_MS, 60_000),
        maxBytes: z
          .number()
          .int()
          .min(1024 * 1024)
          .default(256 * MIB)
          .describe('Size limit of the MIYABI_INSPECT stream (bytes); when full its oldest events are dropped, never a new one refused. JetStream reserves it against its store'),
      })
      .strict()
      .prefault({})
      .describe('The durable history of inspection events (docs/CONSOLE.md, "History")'),
    publishBuffer: z
      .number()
      .int()
      .min(16)
      .default(10_000)
      .describe('Inspection events waiting to be published at most; past it new ones are dropped and counted (miyabi_inspection_dropped_total), never buffered without bound'),
    clientQueue: z
      .number()
      .int()
      .min(1)
      .default(1_000)
      .describe('Events waiting for one slow /api/events client at most; past it that client\'s events are dropped and it is sent a `dropped` marker'),
  })
  .strict()
  .prefault({})
  .describe('The web console: live statecharts, the supervisor tree, issue histories (docs/CONSOLE.md)');
