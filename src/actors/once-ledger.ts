/**
 * The ledger of what happened once for good (src/workflow/store.ts `OnceStore`, over the bus's
 * `once` KV bucket, whose entries expire after a week), as the webhook receiver and the issue
 * watcher use it: through the bus of the moment (it is replaced when it reconnects); without a
 * bus, a read or a write fails, and the caller says so (a webhook delivery is refused with a 5xx,
 * so GitHub delivers it again).
 */
import { OnceStore } from '../workflow/store.ts';
import type { OnceLedger } from '../issues/webhook.ts';
import type { OrchestraResources } from './resources.ts';

export function onceLedger(resources: Pick<OrchestraResources, 'bus'>): OnceLedger {
  const store = async () => {
    const bus = resources.bus;
    if (!bus) throw new Error('bus not connected');
    return new OnceStore(await bus.once());
  };
  return {
    has: async (key) => (await store()).has(key),
    add: async (key) => (await store()).add(key),
  };
}
