/**
 * The side effects a lifecycle asks for, as plain data: an action of the lifecycle machine, with
 * the issue it belongs to. They wait in the issue's outbox (persisted with its snapshot) until
 * done, so a crash between deciding and doing replays them; each is idempotent by key, so a
 * replay never does anything twice. `EffectRunner` does them: the tracker (labels, comments, the
 * pull request; every text redacted of known secrets first), the bus (tasks, `issue.finished`),
 * the KV ledger and cache.
 */
import type { Logger } from 'pino';
import type { StageResult } from '../agents/task.ts';
import type { OrchestraConfig } from '../config/schema.ts';
import { noRedaction, type Redact } from '../infra/observe/redact.ts';
import type { IssueSource } from '../issues/source.ts';
import type { CommentParams, DispatchParams, LifecycleContext, StateLabel } from '../machines/issue-lifecycle.ts';
import { TASK_DISPATCHED, taskSubject, type TaskMessage } from '../runner/task-message.ts';
import { renderComment } from './comments.ts';
import type { IssueRecord, WorkflowEffect } from './record.ts';
import type { WorkflowStore } from './store.ts';

const EFFECT_TYPES = new Set<string>(['setStateLabel', 'comment', 'dispatchTask', 'cancelTask', 'stageSucceeded', 'finished', 'retargetStacked']);

/** The effects among a transition's actions, decided at `at` (ms since the epoch). */
export function toEffects(actions: ReadonlyArray<{ type: string; params?: unknown }>, at: number): WorkflowEffect[] {
  return actions
    .filter((action) => EFFECT_TYPES.has(action.type))
    .map((action) => ({ type: action.type as WorkflowEffect['type'], params: (action.params ?? {}) as Record<string, unknown>, at }));
}

/** Effects that write to the tracker: they keep their order among themselves through an outage. */
export function writesTracker(effect: WorkflowEffect): boolean {
  return (
    effect.type === 'setStateLabel' ||
    effect.type === 'comment' ||
    effect.type === 'retargetStacked' ||
    (effect.type === 'stageSucceeded' && effect.params.stage === 'pr')
  );
}

/** The stage whose success opens the pull request. */
const PULL_REQUEST_STAGE = 'pr';

export interface EffectRunnerOptions {
  config: OrchestraConfig;
  source: IssueSource;
  store: WorkflowStore;
  publish: (subject: string, type: string, payload: unknown, msgId: string) => Promise<void>;
  /** Stops a task wherever it is (queued on the bus or running in an agent). */
  cancel: (taskId: string) => Promise<void>;
  /** The base branch pull requests target (the workspace's); absent: the tracker's default branch. */
  baseBranch?: string;
  /** Pushes the issue's branch before its pull request is opened (GitHub); absent for the local tracker. */
  pushBranch?: (branch: string) => Promise<void>;
  /** Applied to every text written to the tracker (comments, pull requests): each known secret replaced. */
  redact?: Redact;
  logger: Logger;
}

/** What an effect needs of its issue at the moment it runs. */
export interface EffectContext {
  lifecycle: LifecycleContext;
  /** The idempotency key of a stage of this issue (its cache entry). */
  stageKey(stage: string): string;
  /** The last lines the agent of a task printed, when known. */
  logTail(taskId: string): string[] | undefined;
  /** The pull requests of the issues that depend on this one, as the orchestra opened them. */
  dependentPulls(): Array<{ issue: number; pullRequest: number }>;
  /** Whether an issue of the orchestra's has its change merged into the base branch. */
  merged(issue: number): boolean;
}

export class EffectRunner {
  readonly #options: EffectRunnerOptions;

  constructor(options: EffectRunnerOptions) {
    this.#options = options;
  }

  async run(record: IssueRecord, effect: WorkflowEffect, at: EffectContext): Promise<void> {
    const { source, store } = this.#options;
    const context = at.lifecycle;
    const labels = this.#options.config.workflow.stateLabels;
    switch (effect.type) {
      case 'setStateLabel': {
        const label = effect.params.label as StateLabel | undefined;
        await source.setExclusiveLabel(record.number, Object.values(labels), label === undefined ? undefined : labels[label]);
        return;
      }
      case 'comment': {
        const params = effect.params as unknown as CommentParams;
        const ledger = `comment.${params.key}`;
        if (mayBeDone(effect) && (await store.hasEffect(ledger))) return;
        const logTail = params.taskId ? at.logTail(params.taskId) : undefined;
        const body = renderComment(params, {
          record,
          route: context.route.map((stage) => stage.stage),
          priority: context.priority,
          branch: this.#branchOf(record.number),
          stages: context.route.map(({ stage }) => ({ stage, ...(context.results[stage]?.summary ? { summary: context.results[stage]!.summary } : {}) })),
          ...(logTail ? { logTail } : {}),
          lifecycle: context,
        });
        await source.comment(record.number, params.key, this.#redact(body));
        await store.markEffect(ledger);
        return;
      }
      case 'dispatchTask': {
        const params = effect.params as unknown as DispatchParams;
        // Written by earlier versions, which kept a ledger entry per dispatch: still honoured on a replay.
        if (mayBeDone(effect) && (await store.hasEffect(`dispatch.${params.taskId}`))) return;
        const task: TaskMessage = {
          taskId: params.taskId,
          issue: record.issue,
          role: params.role,
          stage: params.stage,
          attempt: params.attempt,
          round: params.round,
          branch: this.#branchOf(record.number),
          previous: params.previous,
          ...(params.git ? { git: params.git } : {}),
          ...(params.conflict ? { conflict: params.conflict } : {}),
          ...(params.answers && params.answers.length > 0 ? { answers: params.answers } : {}),
        };
        // No ledger entry of its own: the record's next write, the effect out of its outbox (outbox.ts), is the ledger.
        // A crash after the PubAck and before that write replays the publish with the same Msg-Id, which JetStream
        // drops within its duplicate window (bus.duplicateWindowMs) — the same window a separate ledger write left
        // open between the PubAck and itself, one write fewer per dispatch.
        await this.#options.publish(taskSubject(params.role), TASK_DISPATCHED, task, `task:${params.taskId}`);
        this.#options.logger.info({ issue: record.number, stage: params.stage, role: params.role, attempt: params.attempt, taskId: params.taskId }, 'stage dispatched');
        return;
      }
      case 'cancelTask': {
        const taskId = effect.params.taskId as string;
        if (taskId) await this.#options.cancel(taskId);
        return;
      }
      case 'stageSucceeded': {
        const stage = effect.params.stage as string;
        const result = effect.params.result as StageResult;
        await store.putCache(at.stageKey(stage), result);
        if (stage === PULL_REQUEST_STAGE) await this.#openPullRequest(record, effect.params.generation as number, result, at);
        return;
      }
      case 'retargetStacked': {
        // Each time from the tracker's answer, so a replay after a crash finds the work done.
        const branch = this.#branchOf(record.number);
        for (const { issue, pullRequest } of at.dependentPulls()) await this.#retarget(issue, pullRequest, branch, record.number);
        return;
      }
      case 'finished': {
        const outcome = effect.params.outcome as string;
        await this.#options.publish(
          `miyabi.events.issue.${record.number}`,
          'issue.finished',
          { number: record.number, outcome, reason: effect.params.reason, generation: context.generation },
          `finished:${record.number}:g${context.generation}:${outcome}`,
        );
        this.#options.logger.info({ issue: record.number, outcome, reason: effect.params.reason }, `issue ${outcome}`);
        return;
      }
    }
  }

  async #openPullRequest(record: IssueRecord, generation: number, result: StageResult, at: EffectContext): Promise<void> {
    const ledger = `pr.${record.number}.g${generation}`;
    const done = await this.#options.store.effect<{ number: number; url: string }>(ledger);
    if (done) {
      record.pullRequest = { number: done.number, url: done.url };
      await this.#stackedOnMerged(record, at);
      return;
    }
    const planned = at.lifecycle.git?.pullRequestBase;
    const branch = this.#branchOf(record.number);
    await this.#options.pushBranch?.(branch);
    const outputs = result.outputs ?? {};
    const title = typeof outputs.title === 'string' && outputs.title.trim() ? outputs.title : `#${record.number}: ${record.issue.title}`;
    let body = typeof outputs.body === 'string' ? outputs.body : (result.summary ?? '');
    if (!new RegExp(`\\bCloses #${record.number}\\b`).test(body)) body = `${body}\n\nCloses #${record.number}`.trim();
    const { draft } = this.#options.config.workflow.pullRequest;
    // A stacked pull request targets its dependency's branch; else the base branch (default: the tracker's).
    const base = planned ?? this.#options.baseBranch ?? this.#options.config.workspace.baseBranch;
    const pullRequest = await this.#options.source.openPullRequest({
      issue: record.number,
      head: branch,
      ...(base === undefined ? {} : { base }),
      title: this.#redact(title),
      body: this.#redact(body),
      draft,
    });
    record.pullRequest = { number: pullRequest.number, url: pullRequest.url };
    await this.#options.store.markEffect(ledger, record.pullRequest);
    this.#options.logger.info({ issue: record.number, pullRequest: pullRequest.url, created: pullRequest.created }, 'pull request opened');
    await this.#stackedOnMerged(record, at);
  }

  /**
   * A pull request stacked on a dependency that merged while its pr stage ran: the dependency's
   * own retarget (`retargetStacked`) came before the pull request existed, so it goes to the base
   * branch here. Asked after the pull request is recorded: whichever of the two comes second
   * sees the other, and the tracker's answer makes a second retarget a no-op.
   */
  async #stackedOnMerged(record: IssueRecord, at: EffectContext): Promise<void> {
    const git = at.lifecycle.git;
    const dependency = git?.dependencies.find((candidate) => candidate.branch === git.pullRequestBase);
    if (!record.pullRequest || !dependency || !at.merged(dependency.number)) return;
    await this.#retarget(record.number, record.pullRequest.number, dependency.branch, dependency.number);
  }

  /** Points the issue's pull request at the base branch when it still targets `from` (the branch of `dependency`, merged). */
  async #retarget(issue: number, number: number, from: string, dependency: number): Promise<void> {
    const { source, logger } = this.#options;
    const base = this.#options.baseBranch ?? this.#options.config.workspace.baseBranch;
    const pull = await source.pullRequest(number);
    // Merged, closed or pointed elsewhere by a person: not ours to move.
    if (!pull || base === undefined || pull.state !== 'open' || pull.baseRef !== from) return;
    await source.retargetPullRequest(number, base);
    logger.info({ issue, pullRequest: number, base, merged: dependency }, 'pull request retargeted to the base branch');
  }

  #redact(text: string): string {
    return (this.#options.redact ?? noRedaction)(text);
  }

  #branchOf(number: number): string {
    return `${this.#options.config.workspace.branchPrefix}${number}`;
  }
}

/**
 * An effect fresh from a transition has not run before: its state was written before it runs,
 * and a crash replays it from there. Only a replayed or retried effect may be done already.
 */
export function mayBeDone(effect: WorkflowEffect): boolean {
  return effect.replay === true || (effect.failures ?? 0) > 0;
}
