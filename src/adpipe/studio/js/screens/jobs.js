// "Your Video Ads": the user's jobs, newest first, each with its status, product, creation time
// and a thumbnail, linking to the job's own screen.

import { api } from '../api.js';
import { h, showScreen } from '../dom.js';
import { dateTime, seconds, statusLabel } from '../format.js';

const PAGE_SIZE = 10;

function jobItem(job, scope) {
  const asset = job.assets.find((a) => a.thumbnailUrl);
  const product = job.adBasics.product;
  return h('li', { class: 'job card' },
    scope.blobs.image(asset?.thumbnailUrl, asset ? `Thumbnail of ${product}` : '', 'thumb'),
    h('div', { class: 'job-text' },
      h('a', { class: 'job-link', href: `#/jobs/${encodeURIComponent(job.id)}`, text: product }),
      h('p', { class: 'hint' }, h('time', { datetime: job.createdAt, text: dateTime(job.createdAt) }), ` · ${seconds(job.durationSeconds)} · ${job.creative.aspectRatio}`)),
    h('span', { class: `status status-${job.status}`, text: statusLabel(job.status) }));
}

export async function jobsScreen(main, { page }, scope) {
  const number = Math.max(1, Number(page) || 1);
  const { items, total } = await api.jobs(number, PAGE_SIZE, scope.signal);
  const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
  const body = items.length
    ? h('ul', { class: 'job-list', 'aria-label': 'Video ads' }, items.map((job) => jobItem(job, scope)))
    : h('div', { class: 'card empty' },
      h('p', { text: 'No video ads yet.' }),
      h('a', { class: 'button primary', href: '#/new', text: 'Create Video Ad' }));
  const paging = pages > 1
    ? h('nav', { class: 'actions split', 'aria-label': 'Pages' },
      number > 1 ? h('a', { class: 'button secondary', href: `#/jobs?page=${number - 1}`, text: '← Newer' }) : h('span'),
      h('span', { class: 'hint', text: `Page ${number} of ${pages}` }),
      number < pages ? h('a', { class: 'button secondary', href: `#/jobs?page=${number + 1}`, text: 'Older →' }) : h('span'))
    : null;
  showScreen(main, h('section', { class: 'screen' },
    h('div', { class: 'title-row' },
      h('h1', { text: 'Your Video Ads' }),
      h('a', { class: 'button primary', href: '#/new', text: '+ New ad' })),
    body,
    paging));
}
