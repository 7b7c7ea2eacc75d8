/**
 * `transition(machine, snapshot, event)` as xstate answers it — the next snapshot and the actions
 * to execute, nothing run — without its cost per call: xstate builds a throwaway actor for every
 * call, and with it the machine's initial snapshot (for a machine whose context needs an input,
 * an error thrown and caught each time, stack trace included). That was most of an issue
 * lifecycle step's CPU. Here the inert scope is built once per machine and serves every call.
 *
 * Safe to share because the scope is inert and the calls synchronous: the machines stepped this
 * way (the issue lifecycle) neither spawn nor invoke actors, so nothing registers in the scope's
 * system; its action executor only collects the actions of the call in progress.
 */
import { createActor, type AnyStateMachine, type EventFromLogic, type ExecutableActionsFrom, type SnapshotFrom } from 'xstate';

export type Transition<TMachine extends AnyStateMachine> = (
  snapshot: SnapshotFrom<TMachine>,
  event: EventFromLogic<TMachine>,
) => [next: SnapshotFrom<TMachine>, actions: Array<ExecutableActionsFrom<TMachine>>];

export function inertTransition<TMachine extends AnyStateMachine>(machine: TMachine): Transition<TMachine> {
  let collected: Array<ExecutableActionsFrom<TMachine>> = [];
  const self = createActor(machine);
  type Scope = Parameters<TMachine['transition']>[2];
  const scope = {
    self,
    defer: () => {},
    id: '',
    logger: () => {},
    sessionId: '',
    stopChild: () => {},
    system: self.system,
    emit: () => {},
    actionExecutor: (action: ExecutableActionsFrom<TMachine>) => void collected.push(action),
  } as unknown as Scope;
  return (snapshot, event) => {
    collected = [];
    const next = machine.transition(snapshot, event, scope) as SnapshotFrom<TMachine>;
    return [next, collected];
  };
}
