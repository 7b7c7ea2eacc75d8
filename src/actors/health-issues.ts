/**
 * The health monitor's tracker issues (`notify.githubIssues`): the steps the pure
 * src/machines/health-issues.ts decides (one issue per critical problem, a storm as one issue),
 * carried out on the tracker in the background. One check
 * at a time: a check that comes while the last one's steps still run waits, and only the newest
 * waiting check is carried out (a slow tracker never builds a queue). Before its first check the
 * reporter adopts the open issues it finds on the tracker, so an issue a previous life opened
 * (the monitor restarts with the bus) is closed when its problem is gone. A step that fails is
 * logged; an open that failed is forgotten, so the next check that still finds the problem tries
 * again. `report` never throws and never waits.
 */
import type { Logger } from 'pino';
import { describeError } from '../errors.ts';
import type { HealthIssueTracker } from '../issues/source.ts';
import type { HealthProblem } from '../machines/health-judge.ts';
import { healthIssueSteps, type HealthIssueStep, type TrackedProblem } from '../machines/health-issues.ts';

export interface HealthIssueReporterOptions {
  tracker: HealthIssueTracker;
  commentIntervalMs: number;
  /** More new critical problems in one check become one issue. */
  maxPerCheck: number;
  logger: Logger;
  now?: () => number;
}

export class HealthIssueReporter {
  #tracked: Map<string, TrackedProblem> | undefined;
  /** Each tracked problem's issue number, once opened. */
  readonly #numbers = new Map<string, number>();
  #waiting: { findings: readonly HealthProblem[]; at: number } | undefined;
  #running: Promise<void> | undefined;

  constructor(private readonly options: HealthIssueReporterOptions) {}

  report(findings: readonly HealthProblem[]): void {
    this.#waiting = { findings, at: (this.options.now ?? Date.now)() };
    this.#running ??= this.#drain().finally(() => (this.#running = undefined));
  }

  /** Resolves when every check reported so far is carried out (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.#running) await this.#running;
  }

  async #drain(): Promise<void> {
    for (let check = this.#waiting; check !== undefined; check = this.#waiting) {
      this.#waiting = undefined;
      this.#tracked ??= await this.#adopt();
      const { findings, at: now } = check;
      const decided = healthIssueSteps(this.#tracked, findings, now, this.options);
      this.#tracked = decided.tracked;
      for (const step of decided.steps) await this.#carryOut(step, now);
    }
  }

  /** The open health issues of the tracker, as problems still to be judged. */
  async #adopt(): Promise<Map<string, TrackedProblem>> {
    const adopted = new Map<string, TrackedProblem>();
    try {
      for (const { key, number } of await this.options.tracker.listOpen()) {
        adopted.set(key, { problem: undefined, saidAt: 0, issue: key });
        this.#numbers.set(key, number);
      }
    } catch (error) {
      this.options.logger.warn({ err: describeError(error) }, 'open health issues not read; those of an earlier start stay open');
    }
    return adopted;
  }

  async #carryOut(step: HealthIssueStep, now: number): Promise<void> {
    const { tracker, logger } = this.options;
    const { key } = step;
    const at = new Date(now).toISOString();
    const number = this.#numbers.get(key);
    try {
      if (step.kind === 'open') {
        const opened = await tracker.open(key, step.title, `${step.text}\n\nFound at ${at}. This issue is commented while it lasts and closed when it is resolved.`);
        this.#numbers.set(key, opened);
        logger.info({ problem: key, issue: opened }, 'health issue opened');
      } else if (number !== undefined && step.kind === 'comment') {
        await tracker.comment(number, `health:${key}:${at}`, `${step.text}\n\n(${at})`);
      } else if (number !== undefined) {
        await tracker.close(number, `health:${key}:resolved:${at}`, `${step.text} (${at})`);
        this.#numbers.delete(key);
        logger.info({ problem: key, issue: number }, 'health issue closed');
      }
    } catch (error) {
      logger.warn({ problem: key, step: step.kind, err: describeError(error) }, 'health issue not updated');
      // An open that failed is tried again by the next check that still finds its problems.
      if (step.kind === 'open' && this.#tracked) {
        for (const [tracked, entry] of this.#tracked) if (entry.issue === key) this.#tracked.delete(tracked);
      }
    }
  }
}
