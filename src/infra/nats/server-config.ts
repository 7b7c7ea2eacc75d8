/**
 * The authorization part of a nats-server config: nkey users with per-user permissions, in
 * nats-server's config syntax (strings quoted as JSON, which the parser reads). Pure: whoever
 * knows the subjects decides the permissions (src/orchestra/nats-auth.ts); this only writes them.
 *
 *   authorization { users = [ { nkey: "U…", permissions: { publish: { allow: [...], deny: [...] } … } } ] }
 *
 * or, for a server shared with others, the same users in an account of their own with JetStream:
 *
 *   accounts { MIYABI { jetstream: enabled, users = [ … ] } }
 *
 * A user without `permissions` may publish and subscribe to anything in its account.
 */

export interface SubjectRules {
  allow: readonly string[];
  deny?: readonly string[];
}

export interface UserPermissions {
  publish: SubjectRules;
  subscribe: SubjectRules;
  /** May publish a reply to a request it received (any reply subject), once. */
  allowResponses?: boolean;
}

export interface NkeyUser {
  /** A comment line above the user: its identity's name. */
  name: string;
  publicKey: string;
  permissions?: UserPermissions;
}

const quote = (text: string) => JSON.stringify(text);
const list = (subjects: readonly string[]) => `[${subjects.map(quote).join(', ')}]`;

function rules(kind: string, value: SubjectRules, indent: string): string {
  const deny = value.deny && value.deny.length > 0 ? `, deny: ${list(value.deny)}` : '';
  return `${indent}${kind}: { allow: ${list(value.allow)}${deny} }`;
}

function user(entry: NkeyUser, indent: string): string {
  const lines = [`${indent}# ${entry.name}`, `${indent}{`, `${indent}  nkey: ${quote(entry.publicKey)}`];
  if (entry.permissions) {
    const inner = `${indent}    `;
    lines.push(`${indent}  permissions: {`, rules('publish', entry.permissions.publish, inner), rules('subscribe', entry.permissions.subscribe, inner));
    if (entry.permissions.allowResponses) lines.push(`${inner}allow_responses: true`);
    lines.push(`${indent}  }`);
  }
  lines.push(`${indent}}`);
  return lines.join('\n');
}

function users(entries: readonly NkeyUser[], indent: string): string {
  return `${indent}users = [\n${entries.map((entry) => user(entry, `${indent}  `)).join('\n')}\n${indent}]`;
}

/** `authorization { users = [...] }`: the users of the server's default account. */
export function authorizationBlock(entries: readonly NkeyUser[]): string {
  return `authorization {\n${users(entries, '  ')}\n}\n`;
}

/** `accounts { <account> { jetstream: enabled, users = [...] } }`: the users in an account of their own. */
export function accountsBlock(account: string, entries: readonly NkeyUser[]): string {
  if (!/^[A-Za-z0-9_-]+$/.test(account)) throw new Error(`account name ${JSON.stringify(account)} is not a plain name`);
  return `accounts {\n  ${account} {\n    jetstream: enabled\n${users(entries, '    ')}\n  }\n}\n`;
}
