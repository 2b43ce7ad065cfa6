// One job, whatever its status: picks the screen for the status (storyboard review, rendering,
// video ready, failed, cancelled) and keeps it live from the job's server-sent events.
//
// Render progress comes straight from the events. Any other event means the job document
// changed: it is read again until the read model has caught up with that event (its updatedAt
// reaches the event's recordedAt), since projections trail the event log by a moment.

import { api } from '../api.js';
import { delay, h, showScreen } from '../dom.js';
import { TERMINAL, microseconds } from '../format.js';
import { follow } from '../sse.js';
import { cancelledView, failedView } from './ended.js';
import { pendingView, renderingView } from './progress.js';
import { readyView } from './ready.js';
import { reviewView } from './storyboard.js';

const VIEWS = {
  pending: pendingView,
  storyboard_review: reviewView,
  in_progress: renderingView,
  rendering: renderingView,
  completed: readyView,
  failed: failedView,
  cancelled: cancelledView,
};
const FINAL_EVENTS = new Set(['job.render_completed', 'job.failed', 'job.cancelled']);
const CATCH_UP_TRIES = 12;

export async function jobScreen(main, { id }, scope) {
  let shown = await api.job(id, scope.signal);
  let view = null;
  let make = null;
  let wanted = 0;
  let catchingUp = null;
  let stream = null;
  const banner = h('p', { class: 'connection', role: 'status', hidden: true });

  // What the screens may do: show a job document an action answered, read the job again, and
  // see the latest render progress heard.
  const ctx = { id, scope, live: { progress: null }, show, refresh: () => readJob() };

  function show(job) {
    if (microseconds(job.updatedAt) < microseconds(shown.updatedAt)) return; // an older answer
    shown = job;
    const next = VIEWS[job.status];
    if (next !== make) {
      view?.dispose?.();
      make = next;
      view = make(job, ctx);
      showScreen(main, h('div', { class: 'screen' }, banner, view.element));
    } else {
      view.update?.(job);
    }
    if (TERMINAL.has(job.status)) stream?.close();
  }

  async function readJob() {
    show(await api.job(id, scope.signal));
  }

  async function catchUp() {
    try {
      await delay(0, scope.signal); // a replay arrives in one burst: one read covers all of it
      for (let tries = 0; microseconds(shown.updatedAt) < wanted && tries < CATCH_UP_TRIES; tries += 1) {
        if (tries) await delay(Math.min(50 * 2 ** tries, 2000), scope.signal);
        await readJob();
      }
    } finally {
      // Cleared in the same step as the last check: an event heard after it starts a new round.
      catchingUp = null;
    }
  }

  function heard(recordedAt) {
    wanted = Math.max(wanted, microseconds(recordedAt));
    catchingUp ??= catchUp().catch(scope.fail);
  }

  show(shown);
  if (TERMINAL.has(shown.status)) return;
  stream = follow(`/api/v3/jobs/${encodeURIComponent(id)}/events`, {
    onMessage(message) {
      const envelope = JSON.parse(message.data);
      if (envelope.type === 'job.render_progress') {
        ctx.live.progress = envelope.data;
        view.progress?.(envelope.data);
      } else {
        heard(envelope.recordedAt);
      }
    },
    isLast: (message) => FINAL_EVENTS.has(message.event),
    onState(state) {
      banner.hidden = state === 'live';
      banner.textContent = state === 'live' ? '' : 'The live connection dropped; reconnecting…';
    },
    onError: scope.fail,
  });
  scope.onDispose(() => stream.close());
}
