/**
 * Collaborators and their permissions: a role per login, the `permissions` object GitHub derives
 * from it, and `GET /repos/{o}/{r}/collaborators/{login}/permission` (404 for a login the fake
 * has never seen; 403 "Must have push access to view repository collaborators." for every login
 * while `state.permissionsReadable` is false, as GitHub answers a token whose user may only read).
 */
import { docs, type Route } from './http.ts';
import type { FakeRepo } from './repo.ts';
import type { FakeRole } from './types.ts';

export const permissionsOf = (role: FakeRole | undefined) => ({
  admin: role === 'admin',
  maintain: role === 'admin' || role === 'maintain',
  push: role === 'admin' || role === 'maintain' || role === 'write',
  triage: role !== undefined && role !== 'read',
  pull: true,
});

export function setCollaborator(fake: FakeRepo, login: string, role: FakeRole): void {
  fake.user(login);
  fake.state.collaborators.set(login, role);
}

export const collaboratorsRoute: Route = (fake, { method, parts }) => {
  const { state } = fake;
  const [a, b, c] = parts;
  if (a === 'collaborators' && b !== undefined && c === 'permission' && method === 'GET') {
    if (!state.permissionsReadable) {
      return { status: 403, body: { message: 'Must have push access to view repository collaborators.', documentation_url: docs, status: '403' } };
    }
    const found = state.users.get(b);
    if (found === undefined) return { status: 404, body: { message: `${b} is not a user`, documentation_url: docs, status: '404' } };
    const role = state.collaborators.get(b);
    // GitHub's `permission` folds maintain into write and triage into read; `role_name` does not.
    const permission = role === 'admin' ? 'admin' : role === 'maintain' || role === 'write' ? 'write' : 'read';
    return {
      status: 200,
      body: { permission, role_name: role ?? 'read', user: { ...fake.userJson(found), permissions: permissionsOf(role), role_name: role ?? 'read' } },
    };
  }
  return undefined;
};
