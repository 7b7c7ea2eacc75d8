/**
 * The console's page at `/`: one HTML document with the console's script and style inlined
 * (dist/console.js and dist/console.css, bundled from src/console by `npm run build`), so the
 * browser makes one request for the page and then only calls the APIs. Its Content-Security-Policy
 * says the same to the browser: scripts and styles only these (by hash), connections and
 * images only to this origin, no font, no frame — nothing the page does can reach another host.
 *
 * Read once and kept while the files do not change (a rebuild is served at the next request). A
 * checkout never built gets a page that says so.
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../package-root.ts';

export interface ConsolePage {
  html: string;
  headers: Record<string, string>;
}

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

/** `</script` (and `</style`) inside inlined code would end its element early. */
const inlineSafe = (code: string, tag: 'script' | 'style') => code.replace(new RegExp(`</${tag}`, 'gi'), `<\\/${tag}`);

let cached: { key: string; page: ConsolePage } | undefined;

export function consoleAssets(): { script: string; style: string } {
  return { script: join(packageRoot(), 'dist', 'console.js'), style: join(packageRoot(), 'dist', 'console.css') };
}

export function consolePage(): ConsolePage {
  const files = consoleAssets();
  let key: string;
  try {
    key = [files.script, files.style].map((file) => statSync(file).mtimeMs).join('|');
  } catch {
    return notBuilt(files.script);
  }
  if (cached?.key === key) return cached.page;
  const script = inlineSafe(readFileSync(files.script, 'utf8'), 'script');
  const style = inlineSafe(readFileSync(files.style, 'utf8'), 'style');
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Miyabi Orchestra console</title>
<style>${style}</style>
</head><body><noscript>The console needs JavaScript; its APIs are listed in docs/CONSOLE.md.</noscript>
<script>${script}</script>
</body></html>
`;
  const csp = [
    "default-src 'none'",
    `script-src ${sha256(script)}`,
    `style-src ${sha256(style)}`,
    "connect-src 'self'",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  const page = { html, headers: { 'content-security-policy': csp, 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' } };
  cached = { key, page };
  return page;
}

function notBuilt(file: string): ConsolePage {
  return {
    html: `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Miyabi Orchestra console</title></head>
<body><h1>Miyabi Orchestra console</h1>
<p>The console's script is not built (${file.replace(/[<>&]/g, '')} is missing): run <code>npm run build</code>.
Its APIs work meanwhile: <code>/api/tree</code>, <code>/api/machines</code>, <code>/api/dag</code>, <code>/api/events</code>, <code>/api/issues/&lt;n&gt;/history</code>.</p>
</body></html>
`,
    headers: { 'content-security-policy': "default-src 'none'", 'x-content-type-options': 'nosniff' },
  };
}
