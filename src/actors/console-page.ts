/**
 * The console's page at `/`. For now a plain server-rendered index of the APIs (no script, no
 * request to anywhere but this orchestra); the live views are built on these APIs next
 * (docs/CONSOLE.md).
 */
const APIS: Array<[string, string]> = [
  ['/api/tree', 'the supervisor tree, as status --json'],
  ['/api/machines', 'every state machine as a JSON definition'],
  ['/api/dag', 'the dependency graph, as dag show --format json'],
  ['/api/events', 'live inspection events (Server-Sent Events)'],
];

export function consolePage(): string {
  const items = APIS.map(([path, what]) => `<li><a href="${path}"><code>${path}</code></a> — ${what}</li>`).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Miyabi Orchestra console</title></head>
<body><h1>Miyabi Orchestra console</h1>
<ul>
${items}
<li><code>/api/issues/&lt;n&gt;/history</code> — one issue's transitions, oldest first</li>
</ul></body></html>
`;
}
