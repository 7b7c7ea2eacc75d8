/**
 * An orchestra for the budget tests (test/workflow/budget*.test.ts): embedded nats-server,
 * headless runners, local issues, the fixture agent test/workflow/fixtures/costly-agent.mjs, and
 * the helpers they share: wait for an issue's state, check one stays queued, ask as the operator,
 * the lifecycle steps each issue took (the console's inspection records, in order).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect, nkeyAuthenticator } from '@nats-io/transport-node';
import { expect } from 'vitest';
import { loadConfig } from '../../src/config/load.ts';
import { inboxPrefixOf } from '../../src/infra/nats/identities.ts';
import { natsIdentityDir } from '../../src/orchestra/nats-auth.ts';
import { startOrchestra, type Orchestra, type StartOptions } from '../../src/orchestra/orchestra.ts';
import { waitFor } from './wait.ts';
import { issueFile, type IssueSpec } from './workflow-run.ts';

export class BudgetOrchestra {
  orchestra: Orchestra | undefined;
  /** Each lifecycle step of each issue (its event's type), in order, since the first start. */
  readonly #steps = new Map<number, string[]>();
  #unsubscribe: (() => void) | undefined;

  constructor(
    private readonly paths: { configPath: string; dataDir: string; issuesDir: string },
    private readonly options: StartOptions = {},
  ) {}

  async start(): Promise<Orchestra> {
    this.orchestra = await startOrchestra(await loadConfig(this.paths.configPath), { logStream: false, ...this.options });
    this.#unsubscribe = this.orchestra.resources.inspection.subscribe((record) => {
      if (record.kind !== 'issue' || record.issue === undefined) return;
      const steps = this.#steps.get(record.issue.number) ?? [];
      steps.push(record.event);
      this.#steps.set(record.issue.number, steps);
    });
    return this.orchestra;
  }

  /** The lifecycle events an issue has taken a step on, in order. */
  steps(number: number): string[] {
    return [...(this.#steps.get(number) ?? [])];
  }

  async stop(): Promise<void> {
    this.#unsubscribe?.();
    await this.orchestra?.stop();
    this.orchestra = undefined;
  }

  workflow() {
    return this.orchestra!.resources.workflow;
  }

  state(number: number): string | undefined {
    return this.workflow()?.states().get(number);
  }

  budget() {
    return this.orchestra!.resources.budget!.status();
  }

  addIssue(spec: IssueSpec): Promise<void> {
    return writeFile(join(this.paths.issuesDir, `${spec.number}.md`), issueFile(spec));
  }

  async waitForState(number: number, expected: string): Promise<void> {
    await waitFor(
      () => {
        const now = this.state(number);
        if (now !== expected && (now === 'done' || now === 'failed')) throw new Error(`#${number} is ${now}, not ${expected}: ${this.workflow()!.snapshot(number).context.reason}`);
        return now === expected;
      },
      { timeoutMs: 60_000, what: `#${number} ${expected}` },
    );
  }

  /** Queued, and still queued once the step that queued it (and dispatched what it could) is over. */
  async heldInQueue(number: number): Promise<void> {
    await this.waitForState(number, 'queued');
    await this.workflow()!.serially(async () => undefined);
    await this.workflow()!.tick();
    expect(this.state(number)).toBe('queued');
  }

  /** A control request as `miyabi-orchestra status` / `budget resume` send it: as the operator, whose key is in the data directory. */
  async control<T>(subject: string): Promise<T> {
    const seed = (await readFile(join(natsIdentityDir(this.paths.dataDir), 'operator.nk'), 'utf8')).trim();
    const nc = await connect({ servers: this.orchestra!.resources.natsServers, authenticator: nkeyAuthenticator(new TextEncoder().encode(seed)), inboxPrefix: inboxPrefixOf('operator'), reconnect: false });
    try {
      return (await nc.request(subject, undefined, { timeout: 10_000 })).json<T>();
    } finally {
      await nc.close();
    }
  }

  async metrics(): Promise<string> {
    return (await fetch(`${this.orchestra!.resources.httpUrl}/metrics`)).text();
  }
}
