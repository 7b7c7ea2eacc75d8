/**
 * What the orchestra says on an issue. Plain Markdown; issue text never goes in unescaped code
 * that could close a fence, and log excerpts are bounded. What an agent or an issue wrote is
 * shown inert (its escape sequences, control characters and bidi overrides as visible escapes):
 * the comment reaches a page, and a terminal through the local tracker's files.
 */
import { inert, inertLines } from '../inert-text.ts';
import type { CommentParams, LifecycleContext } from '../machines/issue-lifecycle.ts';
import type { IssueRecord } from './record.ts';

export interface CommentContext {
  record: IssueRecord;
  route: string[];
  priority: number;
  branch: string;
  /** Summaries of the stages that ran, in order. */
  stages: Array<{ stage: string; summary?: string }>;
  logTail?: string[];
  /** The lifecycle at the time of the comment: the CI log, the conflict, the merge. */
  lifecycle?: Pick<LifecycleContext, 'results' | 'conflict' | 'merged' | 'maxCiRounds' | 'ciRounds' | 'maxConflictRounds' | 'conflictRounds'>;
}

const fence = (lines: readonly string[]) => {
  const text = inertLines(lines.join('\n')).replace(/```/g, '`\u200b``');
  return `\`\`\`text\n${text}\n\`\`\``;
};

export function renderComment(params: CommentParams, context: CommentContext): string {
  const { record, route, priority, branch } = context;
  const header = '🎼 **Miyabi Orchestra**';
  switch (params.kind) {
    case 'started':
      return `${header} started work on #${record.number}.\n\n- Route: ${route.join(' → ')}\n- Priority: P${priority}\n- Branch: \`${branch}\``;
    case 'changes_requested':
      return `${header}: review asked for changes; back to ${route[0]}.\n\n> ${oneLine(params.reason ?? '')}`;
    case 'ci_failed': {
      const ci = context.lifecycle?.results.ci?.outputs as { check?: string; log?: string[] } | undefined;
      const excerpt = ci?.log && ci.log.length > 0 ? `\n\n${fence(ci.log)}` : '';
      const rounds = context.lifecycle ? ` (CI round ${context.lifecycle.ciRounds} of ${context.lifecycle.maxCiRounds})` : '';
      return `${header}: CI check \`${oneLine(ci?.check ?? 'ci', 100)}\` failed; back to ${route[0]}${rounds}.${excerpt}`;
    }
    case 'conflict': {
      const conflict = context.lifecycle?.conflict;
      const files = conflict ? conflict.files.map((file) => `- \`${oneLine(file, 200)}\``).join('\n') : '';
      // GitHub may report a conflict without one file this repository can name.
      const where = files === '' ? '.' : ` in:\n\n${files}`;
      const sides = conflict ? `\n\n\`${conflict.ours.ref}\` (${conflict.ours.sha.slice(0, 12)}) conflicts with \`${conflict.theirs.ref}\` (${conflict.theirs.sha.slice(0, 12)})${where}` : '';
      return `${header}: merge conflict; back to ${route[0]} to resolve it.${sides}`;
    }
    case 'merge_blocked':
      return `${header}: the merge of #${record.number} is refused; it is tried again when the pull request changes.\n\n> ${oneLine(params.reason ?? '')}`;
    case 'needs_input':
      return [
        `${header}: the ${params.stage ?? 'agent'} agent needs an answer to go on with #${record.number}.`,
        '',
        quote(params.reason ?? ''),
        '',
        'Answer in a comment (someone the orchestra trusts): the first such comment after this one is the answer; `/miyabi answer …` says so explicitly.',
      ].join('\n');
    case 'done': {
      const lines = context.stages.map(({ stage, summary }) => `- **${stage}**: ${oneLine(summary ?? 'done')}`);
      const pr = record.pullRequest ? `\n- Pull request: ${record.pullRequest.url}` : '';
      const merged = context.lifecycle?.merged ? `\n- Merged: ${context.lifecycle.merged.sha.slice(0, 12)} (${context.lifecycle.merged.method})` : '';
      return `${header}: #${record.number} is done.\n\n${lines.join('\n')}\n\n- Branch: \`${branch}\`${pr}${merged}`;
    }
    case 'failed': {
      const excerpt = context.logTail && context.logTail.length > 0 ? `\n\nLast lines of the agent's output:\n\n${fence(context.logTail)}` : '';
      return `${header}: #${record.number} failed.\n\n> ${oneLine(params.reason ?? '')}${excerpt}\n\nComment \`/miyabi retry\` to try again.`;
    }
    case 'blocked':
      return `${header}: #${record.number} is blocked.\n\n> ${oneLine(params.reason ?? '')}`;
  }
}

/** A block quote of at most `max` characters and 40 lines: an agent's text, shown as data. */
function quote(text: string, max = 4_000): string {
  const lines = (text.length > max ? `${text.slice(0, max)}…` : text).split('\n').slice(0, 40);
  return lines.map((line) => `> ${inertLines(line).replace(/<!--/g, '<\u200b!--')}`).join('\n');
}

function oneLine(text: string, max = 500): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return inert(line.length > max ? `${line.slice(0, max)}…` : line);
}
