/**
 * What the orchestra says on an issue. Plain Markdown; issue text never goes in unescaped code
 * that could close a fence, and log excerpts are bounded.
 */
import type { CommentParams } from '../machines/issue-lifecycle.ts';
import type { IssueRecord } from './record.ts';

export interface CommentContext {
  record: IssueRecord;
  route: string[];
  priority: number;
  branch: string;
  /** Summaries of the stages that ran, in order. */
  stages: Array<{ stage: string; summary?: string }>;
  logTail?: string[];
}

const fence = (lines: readonly string[]) => {
  const text = lines.join('\n').replace(/```/g, '`\u200b``');
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
    case 'done': {
      const lines = context.stages.map(({ stage, summary }) => `- **${stage}**: ${oneLine(summary ?? 'done')}`);
      const pr = record.pullRequest ? `\n- Pull request: ${record.pullRequest.url}` : '';
      return `${header}: #${record.number} is done.\n\n${lines.join('\n')}\n\n- Branch: \`${branch}\`${pr}`;
    }
    case 'failed': {
      const excerpt = context.logTail && context.logTail.length > 0 ? `\n\nLast lines of the agent's output:\n\n${fence(context.logTail)}` : '';
      return `${header}: #${record.number} failed.\n\n> ${oneLine(params.reason ?? '')}${excerpt}\n\nComment \`/miyabi retry\` to try again.`;
    }
    case 'blocked':
      return `${header}: #${record.number} is blocked.\n\n> ${oneLine(params.reason ?? '')}`;
  }
}

function oneLine(text: string, max = 500): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max)}…` : line;
}
