/**
 * Which states of a diagram an actor is in, from its state value (an inspection record's
 * `value`) or from its state as `status` writes it (the tree's `state`). Pure, DOM-free: tested
 * in Node against every machine of the catalog (test/console/console-types.test.ts).
 */
/** The ids of the states a value is in: `{ alive: { ready: 'busy' } }` → agent-pane.alive, …alive.ready, …alive.ready.busy. */
export function activeStateIds(machineId: string, value: unknown, prefix = machineId): string[] {
  if (typeof value === 'string') return [`${prefix}.${value}`];
  if (value && typeof value === 'object') {
    return Object.entries(value as Record<string, unknown>).flatMap(([key, inner]) => [`${prefix}.${key}`, ...activeStateIds(machineId, inner, `${prefix}.${key}`)]);
  }
  return [];
}

/** The same from a state as `status` writes it (`alive.ready.busy`, parallel regions joined by commas). */
export function stateTextIds(machineId: string, text: string): string[] {
  const ids = new Set<string>();
  for (const path of text.split(',')) {
    const parts = path.split('.').filter((part) => part !== '');
    for (let end = 1; end <= parts.length; end += 1) ids.add(`${machineId}.${parts.slice(0, end).join('.')}`);
  }
  return [...ids];
}
