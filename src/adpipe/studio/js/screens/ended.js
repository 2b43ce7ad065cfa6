// The ends that are not a video: a failed job (with its error) and a cancelled one.

import { h } from '../dom.js';

function nextSteps() {
  return h('div', { class: 'actions' },
    h('a', { class: 'button primary', href: '#/new', text: 'Create New' }),
    h('a', { class: 'button secondary', href: '#/jobs', text: 'Back to your ads' }));
}

export function failedView(job) {
  const error = job.error || { code: 'failed', message: 'The job failed without a reason on record.' };
  const element = h('section', { class: 'screen-body' },
    h('h1', { text: 'Video Failed' }),
    h('p', { class: 'lead', text: `${job.adBasics.product} Ad` }),
    h('div', { class: 'card notice error' },
      h('p', { text: 'This ad could not be made. Nothing more will happen to it.' }),
      h('p', {}, h('strong', { text: 'Error: ' }), h('span', { class: 'error-message', text: error.message })),
      h('p', { class: 'hint', text: `Code: ${error.code}` })),
    nextSteps());
  return { element };
}

export function cancelledView(job) {
  const element = h('section', { class: 'screen-body' },
    h('h1', { text: 'Job Cancelled' }),
    h('p', { class: 'lead', text: `${job.adBasics.product} Ad` }),
    h('div', { class: 'card notice' },
      h('p', { text: 'This ad was cancelled, so no video was made. Start a new one whenever you like.' })),
    nextSteps());
  return { element };
}
