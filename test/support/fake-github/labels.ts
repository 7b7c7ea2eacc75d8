/**
 * Labels: the repository's (`GET`/`POST /repos/{o}/{r}/labels`, 422 on a duplicate), an issue's
 * (`POST …/issues/{n}/labels` adds and creates unknown ones; `PUT …/issues/{n}/labels` replaces
 * them all in one change; `DELETE …/labels/{name}` is 404 when the issue does not have it), and
 * the `labeled` / `unlabeled` events each change leaves (`GET …/issues/{n}/events`), which say who
 * applied a label. Each request (or test step) that changes an issue's labels records them in
 * its `labelHistory`, so a test can see every set of labels the issue ever showed.
 */
import { docs, invalid, paginate, type Answer, type FakeRequest, type Route } from './http.ts';
import type { FakeRepo } from './repo.ts';
import type { FakeEvent, FakeIssue, FakeLabel, FakeUser } from './types.ts';

export const ensureLabel = (fake: FakeRepo, name: string): FakeLabel => {
  let label = fake.state.labels.get(name.toLowerCase());
  if (label === undefined) {
    label = { id: fake.nextId(), name, color: 'ededed', description: null };
    fake.state.labels.set(name.toLowerCase(), label);
  }
  return label;
};

export const addLabel = (fake: FakeRepo, issue: FakeIssue, name: string, actor: FakeUser): boolean => {
  const label = ensureLabel(fake, name);
  if (issue.labels.some((l) => l.toLowerCase() === label.name.toLowerCase())) return false;
  issue.labels.push(label.name);
  issue.updatedAt = fake.now();
  fake.state.events.push({ id: fake.nextId(), issue: issue.number, event: 'labeled', actor, label: label.name, createdAt: issue.updatedAt });
  return true;
};

export const removeLabel = (fake: FakeRepo, issue: FakeIssue, name: string, actor: FakeUser): boolean => {
  const index = issue.labels.findIndex((l) => l.toLowerCase() === name.toLowerCase());
  if (index < 0) return false;
  const [removed] = issue.labels.splice(index, 1);
  issue.updatedAt = fake.now();
  fake.state.events.push({ id: fake.nextId(), issue: issue.number, event: 'unlabeled', actor, label: removed!, createdAt: issue.updatedAt });
  return true;
};

export const labelJson = (fake: FakeRepo, l: FakeLabel) => ({
  id: l.id,
  node_id: `LA_${l.id}`,
  url: fake.api(`/labels/${encodeURIComponent(l.name)}`),
  name: l.name,
  color: l.color,
  default: false,
  description: l.description,
});

/** An issue's labels as GitHub lists them. */
export const labelsJson = (fake: FakeRepo, issue: FakeIssue) => issue.labels.map((name) => labelJson(fake, ensureLabel(fake, name)));

/** The issue's labels become `names` (case-insensitive, first spelling kept): one change, one `updated_at`. */
export const replaceLabels = (fake: FakeRepo, issue: FakeIssue, names: readonly string[], actor: FakeUser): void => {
  const wanted = [...new Map(names.map((name) => [name.toLowerCase(), ensureLabel(fake, name).name])).values()];
  const removed = issue.labels.filter((l) => !wanted.some((w) => w.toLowerCase() === l.toLowerCase()));
  const added = wanted.filter((w) => !issue.labels.some((l) => l.toLowerCase() === w.toLowerCase()));
  if (removed.length === 0 && added.length === 0) return;
  issue.labels = [...issue.labels.filter((l) => !removed.includes(l)), ...added];
  issue.updatedAt = fake.now();
  for (const label of removed) fake.state.events.push({ id: fake.nextId(), issue: issue.number, event: 'unlabeled', actor, label, createdAt: issue.updatedAt });
  for (const label of added) fake.state.events.push({ id: fake.nextId(), issue: issue.number, event: 'labeled', actor, label, createdAt: issue.updatedAt });
};

const eventJson = (fake: FakeRepo, e: FakeEvent) => {
  const label = ensureLabel(fake, e.label);
  return {
    id: e.id,
    node_id: `LE_${e.id}`,
    url: fake.api(`/issues/events/${e.id}`),
    actor: fake.userJson(e.actor),
    event: e.event,
    commit_id: null,
    commit_url: null,
    created_at: e.createdAt,
    label: { name: label.name, color: label.color },
    performed_via_github_app: null,
  };
};

/** `…/issues/{n}/events` and `…/issues/{n}/labels[/{name}]` of an issue that exists. */
export async function issueLabelsRoute(fake: FakeRepo, issue: FakeIssue, { method, url, parts, body }: FakeRequest): Promise<Answer | undefined> {
  const { state } = fake;
  const [, , c, d] = parts;
  if (c === 'events' && d === undefined && method === 'GET') {
    return paginate(fake, url, state.events.filter((e) => e.issue === issue.number).map((e) => eventJson(fake, e)));
  }
  if (c === 'labels' && d === undefined && method === 'POST') {
    const request = await body();
    const names = Array.isArray(request.labels) ? request.labels : [];
    for (const name of names) addLabel(fake, issue, String(name), state.viewer);
    fake.labelsChanged(issue);
    return { status: 200, body: labelsJson(fake, issue) };
  }
  if (c === 'labels' && d === undefined && method === 'PUT') {
    const request = await body();
    if (!Array.isArray(request.labels)) return invalid([{ resource: 'Issue', code: 'missing_field', field: 'labels' }]);
    replaceLabels(fake, issue, request.labels.map(String), state.viewer);
    fake.labelsChanged(issue);
    return { status: 200, body: labelsJson(fake, issue) };
  }
  if (c === 'labels' && d !== undefined && method === 'DELETE') {
    if (!removeLabel(fake, issue, d, state.viewer)) {
      return { status: 404, body: { message: 'Label does not exist', documentation_url: docs, status: '404' } };
    }
    fake.labelsChanged(issue);
    return { status: 200, body: labelsJson(fake, issue) };
  }
  return undefined;
}

/** `GET` and `POST /repos/{o}/{r}/labels`. */
export const labelsRoute: Route = async (fake, { method, url, parts, body }) => {
  const { state } = fake;
  const [a, b] = parts;
  if (a !== 'labels' || b !== undefined) return undefined;
  if (method === 'GET') return paginate(fake, url, [...state.labels.values()].map((l) => labelJson(fake, l)));
  if (method === 'POST') {
    const request = await body();
    const name = String(request.name ?? '');
    if (state.labels.has(name.toLowerCase())) return invalid([{ resource: 'Label', code: 'already_exists', field: 'name' }]);
    const label: FakeLabel = {
      id: fake.nextId(),
      name,
      color: String(request.color ?? 'ededed').replace(/^#/, ''),
      description: typeof request.description === 'string' ? request.description : null,
    };
    state.labels.set(name.toLowerCase(), label);
    return { status: 201, body: labelJson(fake, label) };
  }
  return undefined;
};
