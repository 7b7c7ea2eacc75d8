/**
 * What the issue watcher (./watcher.ts) tells the workflow, and in what words: the event types
 * and subjects on the bus, the issue as the workflow gets it (`observedIssue`), and the version
 * of it that decides whether it is published again (`issueVersion`).
 */
import type { TrackedIssue } from '../issues/source.ts';
import { promptBody, sha256 } from '../issues/text.ts';
import type { ObservedIssue } from './record.ts';
import { dependenciesOf } from './issue-dependencies.ts';

export const ISSUE_OBSERVED = 'issue.observed';
export const ISSUE_RELEASED = 'issue.released';
export const ISSUE_COMMAND = 'issue.command';
export const ISSUE_SCOPE = 'issue.scope';
export const SCOPE_SUBJECT = 'miyabi.events.issue.scope';

export function issueSubject(number: number): string {
  return `miyabi.events.issue.${number}`;
}

/** The issue as the workflow gets it; `dependsOn` defaults to what its body and the tracker's field say. */
export function observedIssue(issue: TrackedIssue, dependsOn: number[] = dependenciesOf(issue).dependsOn): ObservedIssue {
  return {
    issue: {
      number: issue.number,
      title: issue.title,
      body: promptBody(issue.body),
      labels: issue.labels,
      author: issue.author,
      ...(issue.url === undefined ? {} : { url: issue.url }),
    },
    contentHash: sha256(issue.title, issue.body, dependsOn.join(',')).slice(0, 32),
    dependsOn,
  };
}

/**
 * What the workflow has seen of an issue: its content (title, body, dependencies) and its labels
 * but the orchestra's own state labels. A new version is published again (its msgId is new): a
 * label added after the issue was first seen (a route label a moment after the trigger label)
 * reaches the workflow, while the orchestra's own label writes do not come back to it.
 */
export function issueVersion(observed: ObservedIssue, stateLabels: ReadonlySet<string>): string {
  const labels = observed.issue.labels.filter((label) => !stateLabels.has(label)).sort();
  return `${observed.contentHash}.${sha256(labels.join('\n')).slice(0, 12)}`;
}
