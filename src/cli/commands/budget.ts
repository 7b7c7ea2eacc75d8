/**
 * `budget resume`: an operator lifts the daily budget's hold on dispatch for the rest of the
 * budget day (docs/BUDGETS.md). `budget` alone prints the day's spend, as `status` does.
 */
import { CONTROL_SUBJECTS, type BudgetReply, type StatusReply } from '../../actors/control-subjects.ts';
import { CliExit, ExitCode, formatBudget } from '../output.ts';
import { requestControl } from './status.ts';

export async function budget(sub: string | undefined, flags: { config?: string; json?: boolean }): Promise<number> {
  if (sub === 'resume') {
    const reply = await requestControl<BudgetReply>(flags, CONTROL_SUBJECTS.budgetResume, 10_000);
    if (!reply.ok) throw new CliExit(ExitCode.failure, reply.error);
    process.stdout.write(flags.json ? `${JSON.stringify(reply.budget, null, 2)}\n` : `budget resumed until the end of budget day ${reply.budget.day}\n${formatBudget(reply.budget)}\n`);
    return ExitCode.ok;
  }
  if (sub !== undefined && sub !== 'status') throw new CliExit(ExitCode.invalid, `unknown budget subcommand ${sub}; expected resume or status`);
  const reply = await requestControl<StatusReply>(flags, CONTROL_SUBJECTS.status);
  if (!reply.budget) throw new CliExit(ExitCode.failure, 'the workflow is not running; no budget to show yet');
  process.stdout.write(flags.json ? `${JSON.stringify(reply.budget, null, 2)}\n` : `${formatBudget(reply.budget)}\n`);
  return ExitCode.ok;
}
