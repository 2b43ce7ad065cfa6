// The screens of a job at work: planning its storyboard, and "Creating Your Video Ad".

import { h, uid } from '../dom.js';
import { remaining } from '../format.js';
import { cancelJobButton } from './job-actions.js';

const QUEUE_POLL_MS = 3000;

export function pendingView(job, ctx) {
  const element = h('section', { class: 'screen-body' },
    h('h1', { text: 'Planning Your Storyboard' }),
    h('p', { class: 'lead', text: `${job.adBasics.product} Ad` }),
    h('div', { class: 'card' },
      h('p', {}, 'Status: ', h('strong', { text: 'Planning' })),
      h('progress', { 'aria-label': 'Planning the storyboard' }),
      h('p', { text: 'adpipe is fetching your assets and planning the scenes. The storyboard opens here by itself when it is ready.' }),
      h('div', { class: 'actions' }, cancelJobButton(job, ctx, { what: 'Planning stops and no video is made.' }))));
  return { element };
}

export function renderingView(job, ctx) {
  const status = h('strong');
  const labelId = uid('render-label');
  const bar = h('progress', { max: 100, value: 0, 'aria-labelledby': labelId });
  const percent = h('span', { class: 'percent', 'aria-hidden': 'true' });
  const eta = h('span');
  const element = h('section', { class: 'screen-body' },
    h('h1', { text: 'Creating Your Video Ad' }),
    h('p', { class: 'lead', text: `${job.adBasics.product} Ad` }),
    h('div', { class: 'card' },
      h('p', {}, 'Status: ', status),
      h('p', { class: 'visually-hidden', id: labelId, text: 'Render progress' }),
      h('div', { class: 'progress-row' }, bar, percent),
      h('p', {}, 'Estimated time remaining: ', eta),
      h('div', { class: 'actions' }, cancelJobButton(job, ctx))));

  function progress(data) {
    const value = Math.max(bar.value, Math.min(100, data.percent));
    bar.value = value;
    percent.textContent = `${value}%`;
    eta.textContent = remaining(data.etaSeconds);
  }

  let poll = null;
  function update(fresh) {
    // Approved and waiting for a renderer is not rendering yet; say so plainly, with the place
    // in the queue when others are ahead.
    const queued = fresh.status !== 'rendering';
    status.textContent = !queued ? 'Rendering'
      : fresh.queuePosition ? `Queued (position ${fresh.queuePosition})` : 'Waiting for a renderer';
    // The job's estimate counts the wait in the queue; a render's own events are fresher.
    const etaSeconds = ctx.live.progress?.etaSeconds ?? fresh.etaSeconds ?? null;
    progress({ percent: fresh.progress, etaSeconds });
    // A queued job moves up when other jobs' renders end, which its own events do not tell:
    // read it again every few seconds until it renders.
    clearTimeout(poll);
    if (queued) poll = setTimeout(() => ctx.refresh().catch(() => {}), QUEUE_POLL_MS);
  }

  update(job);
  if (ctx.live.progress) progress(ctx.live.progress);
  return { element, update, progress, dispose: () => clearTimeout(poll) };
}

