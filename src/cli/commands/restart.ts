/**
 * `restart <agent>`: an operator restarts one agent of the running orchestra by hand (a fresh
 * actor and runner, through its pool). The orchestra counts it as a person stepping in
 * (`miyabi_human_interventions_total{kind="manual_restart"}`).
 */
import { CONTROL_SUBJECTS, type RestartReply } from '../../actors/control-subjects.ts';
import { CliExit, ExitCode } from '../output.ts';
import { requestControl } from './status.ts';

export async function restart(agent: string | undefined, flags: { config?: string }): Promise<number> {
  if (agent === undefined) throw new CliExit(ExitCode.invalid, 'usage: miyabi-orchestra restart <agent> (an agent id, like codegen-1, or node1-codegen-1 on a cluster: see `status`)');
  // The pool stops the agent within its shutdown time before it starts again.
  const reply = await requestControl<RestartReply>(flags, CONTROL_SUBJECTS.restart, 60_000, { agent });
  if (!reply.ok) throw new CliExit(ExitCode.failure, reply.error);
  process.stdout.write(`agent ${reply.agent} (${reply.role}) restarted\n`);
  return ExitCode.ok;
}
