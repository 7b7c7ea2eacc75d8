/**
 * docs/BUS.md is true to the code and to the server, so that it cannot drift again: an orchestra
 * (real embedded nats-server, headless example agents) works one issue to the end while this
 * test listens on `miyabi.>`; then
 * - the streams the server has are exactly the streams BUS.md names (and their subjects);
 * - the consumers the server has, with their streams and filters, are exactly the rows of BUS.md's
 *   consumer table (`agents-<role>` once per role);
 * - every subject the code builds (its subject functions and constants, given `<role>`-style
 *   placeholders) is named in BUS.md, every subject BUS.md names is one the code builds, and
 *   every subject seen on the wire matches one of them;
 * - the envelope example is a valid envelope of a type and sender seen on the wire, with the
 *   payload fields that type really has.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTROL_SUBJECTS } from '../../src/actors/control-subjects.ts';
import { HEALTH_SUBJECT } from '../../src/actors/core.ts';
import { INSPECT_SUBJECTS } from '../../src/actors/inspection.ts';
import { decodeEnvelope, type Envelope } from '../../src/infra/bus/envelope.ts';
import { deadLetterSubject, DEFAULT_BUS_TOPOLOGY } from '../../src/infra/bus/topology.ts';
import { heartbeatSubject, runnerErrorSubject, spareClaimSubject, spareReadySubject } from '../../src/runner/heartbeat.ts';
import { CANCEL_SUBJECT, resultSubject, taskSubject } from '../../src/runner/task-message.ts';
import { issueSubject, SCOPE_SUBJECT } from '../../src/workflow/issue-events.ts';
import { KPI_SUBJECT } from '../../src/workflow/kpi-facts.ts';
import { repoRoot } from '../support/cli.ts';
import { startTestOrchestra, type TestOrchestra } from '../support/orchestra.ts';
import { waitFor } from '../support/wait.ts';

const ROLES = ['codegen', 'review', 'pr'];

/** The rows of the first markdown table after `heading`, as cells. */
function table(doc: string, heading: string): string[][] {
  const start = doc.indexOf(`\n${heading}\n`);
  if (start < 0) throw new Error(`docs/BUS.md has no section ${heading}`);
  const lines = doc.slice(start).split('\n').slice(2);
  const first = lines.findIndex((line) => line.startsWith('|'));
  const rows: string[][] = [];
  for (const line of lines.slice(first)) {
    if (!line.startsWith('|')) break;
    rows.push(line.split('|').slice(1, -1).map((cell) => cell.trim()));
  }
  return rows.slice(2);
}

const backticked = (cell: string): string[] => [...cell.matchAll(/`([^`]+)`/g)].map((match) => match[1]!);

/** `miyabi.heartbeat.<role>.<agentId>` → a regular expression for the subjects it names. */
function subjectPattern(documented: string): RegExp {
  const tokens = documented.split('.').map((token) => {
    if (token === '>' || token === '<original subject>') return '.+';
    if (/^<[^>]+>$/.test(token)) return '[^.]+';
    return token.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  });
  return new RegExp(`^${tokens.join('\\.')}$`);
}

/** Each concrete role in a name becomes `<role>` again: `agents-codegen` → `agents-<role>`. */
const generic = (name: string): string => ROLES.reduce((text, role) => text.replace(new RegExp(`\\b${role}\\b`), '<role>'), name);

/** Every subject the code builds, with BUS.md's placeholders for what varies. */
const CODE_SUBJECTS = [
  taskSubject('<role>'),
  resultSubject('<role>', '<agentId>'),
  issueSubject('<n>' as unknown as number),
  SCOPE_SUBJECT,
  HEALTH_SUBJECT,
  KPI_SUBJECT,
  deadLetterSubject(DEFAULT_BUS_TOPOLOGY, '<original subject>'),
  CANCEL_SUBJECT,
  ...Object.values(CONTROL_SUBJECTS),
  heartbeatSubject('<role>', '<agentId>'),
  runnerErrorSubject('<role>', '<agentId>'),
  spareClaimSubject('<role>', '<spareId>'),
  spareReadySubject('<role>', '<spareId>'),
  INSPECT_SUBJECTS.actors,
  INSPECT_SUBJECTS.issue('<n>' as unknown as number),
];

let test: TestOrchestra;
let doc: string;
const wire: Array<{ subject: string; envelope?: Envelope }> = [];

beforeAll(async () => {
  doc = await readFile(join(repoRoot, 'docs/BUS.md'), 'utf8');
  const agent = (role: string) => ({ command: ['node', join(repoRoot, `examples/agents/${role}.mjs`)], min: 1, max: 1 });
  test = await startTestOrchestra({
    backend: 'process',
    agents: Object.fromEntries(ROLES.map((role) => [role, agent(role)])),
    // Spare runners on: their subjects are on the wire and in BUS.md.
    config: { health: { checkIntervalMs: 300, reportHeartbeatMs: 300 }, panes: { spareRunners: true } },
  });
  const nc = test.orchestra.resources.nc as NatsConnection;
  nc.subscribe('miyabi.>', {
    callback: (_error, message) => {
      const decoded = decodeEnvelope(message.data);
      wire.push({ subject: message.subject, ...(decoded.ok ? { envelope: decoded.envelope } : {}) });
    },
  });
  await nc.flush();
  // The issue comes once the test listens, so its first task is on the wire too.
  await writeFile(join(test.dir.path, 'issues', '1.md'), ['---', 'number: 1', 'title: Say hello', 'labels: [miyabi]', 'author: aiko', '---', 'Add a greeting.', ''].join('\n'));
  await waitFor(() => test.orchestra.resources.workflow?.states().get(1) === 'done', { timeoutMs: 90_000, what: 'issue #1 done' });
}, 120_000);

afterAll(async () => {
  await test?.stop();
});

describe('docs/BUS.md against the code and a running orchestra', { timeout: 30_000 }, () => {
  it('names exactly the streams the server has, with their subjects', async () => {
    const jsm = await jetstreamManager(test.orchestra.resources.nc as NatsConnection);
    const onServer = new Map<string, string[]>();
    for await (const stream of jsm.streams.list()) onServer.set(stream.config.name, stream.config.subjects);
    const documented = new Map(table(doc, '## Subjects and streams').map((row) => [backticked(row[0]!)[0]!, backticked(row[1]!)] as const));
    expect([...documented.keys()].sort()).toEqual([...onServer.keys()].sort());
    for (const [name, subjects] of onServer) expect(documented.get(name), name).toEqual(subjects);
  });

  it('names exactly the consumers the server has, with their streams and filters', async () => {
    const jsm = await jetstreamManager(test.orchestra.resources.nc as NatsConnection);
    const onServer = new Set<string>();
    for await (const stream of jsm.streams.list()) {
      for await (const consumer of jsm.consumers.list(stream.config.name)) {
        // Short-lived ordered consumers (KV reads, kpi) come and go: only the durable ones are named.
        if (consumer.config.durable_name === undefined) continue;
        onServer.add(`${stream.config.name} ${generic(consumer.name)} ${generic(consumer.config.filter_subject ?? '')}`);
      }
    }
    const documented = table(doc, '### Consumers').map((row) => `${backticked(row[0]!)[0]} ${backticked(row[1]!)[0]} ${backticked(row[2]!)[0]}`);
    expect(documented.sort()).toEqual([...onServer].sort());
  });

  it('names every subject the code builds, and only those; every subject on the wire is one of them', () => {
    const documented = new Set(
      [...table(doc, '### What the orchestra puts there'), ...table(doc, '### Core NATS subjects')]
        .flatMap((row) => backticked(row[0]!))
        .filter((name) => name.startsWith('miyabi.')),
    );
    expect([...documented].sort()).toEqual([...new Set(CODE_SUBJECTS)].sort());
    const patterns = [...documented].map(subjectPattern);
    const seen = [...new Set(wire.map((message) => message.subject))];
    expect(seen.filter((subject) => !patterns.some((pattern) => pattern.test(subject)))).toEqual([]);
    // What one issue's run must have shown, so the check above checked something.
    for (const subject of [taskSubject('codegen'), HEALTH_SUBJECT, issueSubject(1), resultSubject('codegen', 'codegen-1')]) {
      expect(seen).toContain(subject);
    }
    expect(seen.some((subject) => subject.startsWith('miyabi.heartbeat.'))).toBe(true);
  });

  it('shows a real envelope: a type and sender seen on the wire, with that type’s payload fields', () => {
    const example = /## The envelope[\s\S]*?```json\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(example, 'the envelope example in docs/BUS.md').toBeDefined();
    const decoded = decodeEnvelope(new TextEncoder().encode(example));
    expect(decoded.ok, JSON.stringify(decoded)).toBe(true);
    const envelope = (decoded as { envelope: Envelope }).envelope;
    const real = wire.filter((message) => message.envelope?.type === envelope.type && message.envelope.sender === envelope.sender);
    expect(real.length, `envelopes of type ${envelope.type} from ${envelope.sender} on the wire`).toBeGreaterThan(0);
    const keys = (value: unknown) => Object.keys(value as object).sort().join(',');
    expect(real.map((message) => keys(message.envelope!.payload))).toContain(keys(envelope.payload));
  });
});
