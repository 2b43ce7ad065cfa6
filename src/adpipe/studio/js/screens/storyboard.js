// "Storyboard Review": one card per scene, then "Regenerate All", "Reject" and "Approve".
// While a regeneration runs (the job's pendingAction) the affected cards say so and every
// button waits; the job's events bring the new scenes, and only changed cards are redrawn, so an
// open editor or the keyboard focus survives an update elsewhere.

import { api } from '../api.js';
import { ask } from '../dialog.js';
import { announce, h } from '../dom.js';
import { seconds } from '../format.js';
import { sceneCard } from './scene-card.js';

function describePending(pending) {
  if (!pending) return '';
  if (pending.action === 'regenerate_scene') return `Regenerating scene ${pending.sceneNumber}…`;
  if (pending.action === 'reject_storyboard') return 'Planning a new storyboard from your feedback…';
  return 'Regenerating every scene…';
}

export function reviewView(initial, ctx) {
  let job = initial;
  const cards = new Map(); // sceneNumber -> {key, element}
  const list = h('ol', { class: 'scenes', 'aria-label': 'Scenes' });
  const summary = h('p', { class: 'lead' });
  // What fitting the narration changed, e.g. a scene lengthened so that its script is heard.
  const adjustments = h('ul');
  const fitted = h('div', { class: 'notice adjustments', hidden: true }, h('p', { text: 'Fitted to the narration:' }), adjustments);
  const working = h('p', { class: 'notice busy-note', role: 'status', hidden: true });
  const failure = h('div', { class: 'notice error', role: 'alert', hidden: true });
  const conflict = h('div', { class: 'notice error', role: 'alert', hidden: true });
  const regenerateAll = h('button', { type: 'button', class: 'secondary', text: 'Regenerate All' });
  const reject = h('button', { type: 'button', class: 'secondary', text: 'Reject' });
  const approve = h('button', { type: 'button', class: 'primary' }, 'Approve ', h('span', { 'aria-hidden': 'true', text: '✓' }));

  async function act(body, busyMessage) {
    conflict.hidden = true;
    try {
      const answer = await api.act(job.id, body);
      announce(busyMessage);
      ctx.show(answer);
    } catch (error) {
      if (error.status === 409) {
        conflict.textContent = `That cannot be done now: ${error.message}`;
        conflict.hidden = false;
        await ctx.refresh();
      } else {
        ctx.scope.fail(error);
      }
    }
  }

  const actions = {
    async regenerate(n) {
      const feedback = await ask({
        title: `Regenerate scene ${n}`,
        message: 'Say what should change, or leave it empty for a fresh take.',
        label: 'Feedback (optional)',
        confirm: 'Regenerate',
      });
      if (feedback !== null) await act({ action: 'regenerate_scene', sceneNumber: n, feedback: feedback || undefined }, `Regenerating scene ${n}…`);
    },
    closed() {
      update(job);
    },
    async saved(n) {
      await ctx.refresh();
      announce(`Scene ${n} saved.`);
      cards.get(n)?.element.querySelector('[data-focus="edit"]')?.focus();
    },
  };

  regenerateAll.addEventListener('click', async () => {
    const feedback = await ask({ title: 'Regenerate all scenes', message: 'Every scene is planned again.', label: 'Feedback (optional)', confirm: 'Regenerate All' });
    if (feedback !== null) await act({ action: 'regenerate_all_scenes', feedback: feedback || undefined }, 'Regenerating every scene…');
  });
  reject.addEventListener('click', async () => {
    const feedback = await ask({ title: 'Reject the storyboard', message: 'A new storyboard is planned from what you say here.', label: 'What should change?', required: true, missing: 'Say what should change, so the new storyboard can be better.', confirm: 'Reject' });
    if (feedback !== null) await act({ action: 'reject_storyboard', feedback }, 'Planning a new storyboard…');
  });
  approve.addEventListener('click', async () => {
    const ok = await ask({ title: 'Approve the storyboard?', message: 'The video is rendered from these scenes; they cannot be changed afterwards.', confirm: 'Approve' });
    if (ok !== null) await act({ action: 'approve_storyboard' }, 'Approved: rendering starts.');
  });

  function update(fresh) {
    const before = job.pendingAction;
    job = fresh;
    const pending = job.pendingAction;
    const locked = pending !== null;
    summary.textContent = `${job.scenes.length} scenes · ${seconds(job.durationSeconds)} · ${job.creative.aspectRatio} · ${job.creative.resolution}`;
    working.textContent = describePending(pending);
    working.hidden = !pending;
    failure.textContent = job.regenerationError
      ? `The last regeneration could not be made, so the storyboard is unchanged: ${job.regenerationError.message}`
      : '';
    failure.hidden = !job.regenerationError;
    const notes = job.adjustments || [];
    if (JSON.stringify(notes) !== JSON.stringify([...adjustments.children].map((li) => li.textContent))) {
      adjustments.replaceChildren(...notes.map((note) => h('li', { text: note })));
    }
    fitted.hidden = notes.length === 0;
    for (const button of [regenerateAll, reject, approve]) button.disabled = locked;

    const focused = list.contains(document.activeElement) ? document.activeElement : null;
    const numbers = new Set();
    const elements = job.scenes.map((scene) => {
      const n = scene.sceneNumber;
      numbers.add(n);
      const busy = pending !== null && (pending.action !== 'regenerate_scene' || pending.sceneNumber === n);
      const key = JSON.stringify([scene, busy, locked, job.assets.map((a) => a.thumbnailUrl)]);
      const old = cards.get(n);
      if (old && (old.key === key || old.element.dataset.editing)) return old.element;
      const element = sceneCard(scene, job, ctx, { busy, locked, actions });
      if (old && focused && old.element.contains(focused)) {
        // Keep the keyboard user's place: the same button if it can take focus, else the heading.
        window.setTimeout(() => {
          const same = element.querySelector(`[data-focus="${focused.dataset.focus}"]:not(:disabled)`);
          (same || element.querySelector('h2')).focus();
        }, 0);
      }
      cards.set(n, { key, element });
      return element;
    });
    for (const n of [...cards.keys()]) if (!numbers.has(n)) cards.delete(n);
    // Touch only what changed: moving an unchanged card would drop the focus inside it.
    const keep = new Set(elements);
    for (const child of [...list.children]) if (!keep.has(child)) child.remove();
    elements.forEach((element, i) => {
      if (list.children[i] !== element) list.insertBefore(element, list.children[i] || null);
    });
    if (before && !pending) {
      announce(job.regenerationError ? 'The regeneration could not be made.' : before.action === 'regenerate_scene' ? `Scene ${before.sceneNumber} regenerated.` : 'The storyboard was regenerated.');
    }
  }

  const element = h('section', { class: 'screen-body' },
    h('h1', { text: `Storyboard Review - ${job.adBasics.product} Ad` }),
    summary,
    fitted,
    working,
    failure,
    conflict,
    list,
    h('div', { class: 'actions split review-actions' }, regenerateAll, h('div', { class: 'actions' }, reject, approve)));
  update(job);
  return { element, update };
}
