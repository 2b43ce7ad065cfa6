// "Video Ready!": the MP4 in a player, its duration and cost, "Download MP4" and "Create New".
// The video is fetched with the key and played from a blob: URL (a <video> cannot send headers).

import { announce, h } from '../dom.js';
import { money, seconds } from '../format.js';

function downloadName(job) {
  const slug = job.adBasics.product.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
  return `${slug || 'adpipe'}-ad.mp4`;
}

export function readyView(job, ctx) {
  const video = h('video', { controls: true, preload: 'metadata', playsinline: true, 'aria-label': `${job.adBasics.product} Ad` });
  const note = h('p', { class: 'hint', role: 'status', text: 'Loading the video…' });
  const download = h('button', { type: 'button', class: 'primary', text: 'Download MP4', disabled: true });
  let url = null;

  ctx.scope.blobs.url(job.videoUrl).then(
    (blobUrl) => {
      url = blobUrl;
      video.src = url;
      note.textContent = '';
      download.disabled = false;
    },
    (error) => {
      if (error.name !== 'AbortError') note.textContent = `The video could not be loaded: ${error.message}`;
    },
  );

  download.addEventListener('click', () => {
    if (!url) return;
    const link = h('a', { href: url, download: downloadName(job), hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    announce('The MP4 download has started.');
  });

  const element = h('section', { class: 'screen-body' },
    h('h1', { text: 'Video Ready!' }),
    h('div', { class: 'card video-card' },
      h('div', { class: `player ratio-${job.creative.aspectRatio.replace(':', 'x')}` }, video),
      note,
      h('h2', { text: `${job.adBasics.product} Ad` }),
      h('dl', { class: 'facts' },
        h('div', {}, h('dt', { text: 'Duration' }), h('dd', { text: seconds(job.durationSeconds) })),
        h('div', {}, h('dt', { text: 'Cost' }), h('dd', { text: money(job.cost.total, job.cost.currency) })),
        h('div', {}, h('dt', { text: 'Resolution' }), h('dd', { text: `${job.creative.resolution} · ${job.creative.aspectRatio}` })))),
    h('div', { class: 'actions' }, download, h('a', { class: 'button secondary', href: '#/new', text: 'Create New' })));
  return { element };
}
