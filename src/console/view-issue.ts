/**
 * The Issue view: one issue's lifecycle as a timeline (/api/issues/<n>/history, from the
 * MIYABI_INSPECT stream), every transition with its event, time, stage, attempt, agent and the
 * context after it. Stepping backward and forward moves the highlight on the issue-lifecycle
 * diagram; new steps are added live. A history that is gone (the stream was deleted) is said
 * so, and the issue's live state is shown instead.
 */
import { ApiError, getJson, type HistoryReply, type InspectionRecord } from './api.ts';
import { drawDiagram, highlight, machineLayout } from './diagram.ts';
import { activeStateIds } from './states.ts';
import { clock, el, replace } from './dom.ts';
import type { View } from './view.ts';

const MACHINE = 'issue-lifecycle';

export const issueView: View = (root, { live, machines, argument, navigate }) => {
  const input = el('input', { type: 'number', min: '1', id: 'issue-number', placeholder: 'issue number', value: argument });
  const form = el('form', { class: 'issue-form' }, el('label', {}, 'Issue #', input), el('button', { type: 'submit' }, 'Show'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (input.value !== '') navigate(`issue/${input.value}`);
  });
  const notice = el('p', { class: 'notice', id: 'issue-notice' });
  const back = el('button', { type: 'button', id: 'step-back', title: 'step backward' }, '◀ back');
  const forward = el('button', { type: 'button', id: 'step-forward', title: 'step forward' }, 'forward ▶');
  const position = el('span', { id: 'step-position' });
  const timeline = el('ol', { class: 'timeline', id: 'timeline' });
  const holder = el('div', { class: 'diagram-holder' });
  const context = el('pre', { class: 'context', id: 'step-context' });
  replace(root, el('h2', {}, 'Issue'), form, notice, el('div', { class: 'stepper' }, back, position, forward), el('div', { class: 'split' }, el('div', {}, holder, context), timeline));

  const number = argument === undefined ? undefined : Number(argument);
  let steps: InspectionRecord[] = [];
  let selected = -1;
  let liveState: string | undefined;
  let diagram: SVGSVGElement | undefined;
  let stopped = false;

  const show = () => {
    back.disabled = selected <= 0;
    forward.disabled = selected >= steps.length - 1;
    position.textContent = steps.length === 0 ? '' : `step ${selected + 1} of ${steps.length}`;
    for (const [index, item] of [...timeline.children].entries()) item.classList.toggle('selected', index === selected);
    const step = steps[selected];
    const state = step ? step.value ?? step.state : liveState;
    if (diagram) highlight(diagram, new Map(state === undefined ? [] : [[number === undefined ? '' : `#${number}`, activeStateIds(MACHINE, state)]]));
    context.textContent = step ? JSON.stringify(step.context, null, 2) : '';
    timeline.children[selected]?.scrollIntoView({ block: 'nearest' });
  };
  const item = (record: InspectionRecord, index: number) => {
    const detail = record.issue;
    const li = el(
      'li',
      { 'data-state': record.state, 'data-event': record.event },
      el('span', { class: 'time' }, clock(record.time)),
      el('span', { class: 'event' }, record.event),
      el('span', { class: 'transition' }, `${record.from ?? '?'} → ${record.state}`),
      el('span', { class: 'detail' }, [detail?.stage && `stage ${detail.stage}`, detail && `attempt ${detail.attempt}`, detail?.agent && `agent ${detail.agent}`].filter(Boolean).join(' · ')),
    );
    li.addEventListener('click', () => {
      selected = index;
      show();
    });
    return li;
  };
  back.addEventListener('click', () => {
    if (selected > 0) selected -= 1;
    show();
  });
  forward.addEventListener('click', () => {
    if (selected < steps.length - 1) selected += 1;
    show();
  });

  if (number === undefined || !Number.isSafeInteger(number)) {
    notice.textContent = 'Give an issue number to see its lifecycle.';
    return () => undefined;
  }
  void machines.then(async (reply) => {
    const graph = reply.graphs[MACHINE];
    if (!graph) return;
    const placed = await machineLayout(graph);
    if (stopped) return;
    diagram = drawDiagram(placed, { className: 'issue-machine' });
    replace(holder, diagram);
    show();
  });
  getJson<HistoryReply>(`/api/issues/${number}/history`).then(
    (reply) => {
      if (stopped) return;
      steps = reply.transitions;
      liveState = reply.live?.state;
      replace(timeline, ...steps.map(item));
      selected = steps.length - 1;
      notice.textContent = `#${number}: ${reply.total} transition${reply.total === 1 ? '' : 's'} recorded${reply.total > steps.length ? ` (the last ${steps.length} shown)` : ''}; now ${reply.live?.state ?? 'not in the workflow'}.`;
      show();
    },
    (error: unknown) => {
      if (stopped) return;
      const body = error instanceof ApiError ? error.body : {};
      const livePart = body.live as { state?: string } | null | undefined;
      liveState = livePart?.state;
      if (body.error === 'inspection_history_missing') {
        notice.textContent = `The history of #${number} is gone: the inspection stream was deleted (it is made again when the orchestra starts). The live state is shown: ${liveState ?? 'unknown'}.`;
      } else {
        notice.textContent = `#${number}: ${error instanceof Error ? error.message : String(error)}${liveState ? ` — live state: ${liveState}` : ''}`;
      }
      notice.classList.add('error');
      notice.dataset.error = String(body.error ?? 'failed');
      show();
    },
  );
  const unsubscribe = live.subscribe((change) => {
    if (change.kind !== 'record' || change.record.kind !== 'issue' || change.record.issue?.number !== number) return;
    if (steps.some((step) => step.seq === change.record.seq && step.time === change.record.time)) return;
    const following = selected === steps.length - 1;
    steps.push(change.record);
    timeline.append(item(change.record, steps.length - 1));
    liveState = change.record.state;
    if (following) selected = steps.length - 1;
    show();
  });
  return () => {
    stopped = true;
    unsubscribe();
  };
};
