// The job actions every screen shares: cancelling, with a confirmation first.

import { api } from '../api.js';
import { ask } from '../dialog.js';
import { announce, h } from '../dom.js';

/** A "Cancel Job" button that asks, then cancels and shows the answer. */
export function cancelJobButton(job, ctx, { what = 'Rendering stops and no video is made.' } = {}) {
  const button = h('button', { type: 'button', class: 'danger', text: 'Cancel Job' });
  button.addEventListener('click', async () => {
    const confirmed = await ask({ title: 'Cancel this job?', message: what, confirm: 'Cancel Job', cancel: 'Keep going' });
    if (confirmed === null) return;
    button.disabled = true;
    try {
      ctx.show(await api.act(job.id, { action: 'cancel' }));
      announce('The job was cancelled.');
    } catch (error) {
      button.disabled = false;
      if (error.status === 409) await ctx.refresh(); // it finished or failed meanwhile
      else ctx.scope.fail(error);
    }
  });
  return button;
}
