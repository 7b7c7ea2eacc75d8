/**
 * Sends an event to an in-process actor and makes sure it took it: XState processes the event
 * synchronously, and an actor that crashed on it (or was already down) does not throw to the
 * sender. The caller gets `actor_down` instead of a change silently lost.
 */
import type { ActorRef, EventObject, Snapshot } from 'xstate';
import { ErrorCodes, MiyabiError } from '../errors.ts';

export function sendNow<TEvent extends EventObject>(actor: ActorRef<Snapshot<unknown>, TEvent>, event: TEvent): void {
  const name = actor.id;
  if (actor.getSnapshot().status !== 'active') throw new MiyabiError(ErrorCodes.ActorDown, `the ${name} actor is down`);
  actor.send(event);
  const after = actor.getSnapshot();
  if (after.status !== 'active') {
    throw new MiyabiError(ErrorCodes.ActorDown, `the ${name} actor crashed on ${event.type}`, { cause: after.error });
  }
}
