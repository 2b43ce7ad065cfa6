// "Video Ready!": the MP4 in a player with its subtitles, its duration and cost, "Download MP4"
// and "Create New". The video and the WebVTT subtitles are fetched with the key and given to the
// player as blob: URLs (a <video> or <track> cannot send headers).

import { api } from '../api.js';
import { announce, h } from '../dom.js';
import { languageName, languageTag, money, seconds } from '../format.js';

function downloadName(job) {
  const slug = job.adBasics.product.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
  return `${slug || 'adpipe'}-ad.mp4`;
}

/** The language the job's voice speaks (from GET /voices), or '' when it cannot be said. */
async function voiceLanguage(job, signal) {
  const voiceover = job.creative.voiceover;
  if (!voiceover?.enabled || !voiceover.voice) return '';
  try {
    const { items } = await api.voices(signal);
    return items.find((v) => v.name === voiceover.voice)?.language || '';
  } catch (error) {
    if (error.name === 'AbortError' || error.status === 401) throw error;
    return ''; // the subtitles still show, only without their language
  }
}

/**
 * A <track kind="subtitles"> of the WebVTT sidecar, on by default (`default` shows captions as
 * the video plays), labelled and tagged with the language of the voice that speaks them.
 */
function addSubtitles(video, job, ctx, note) {
  Promise.all([ctx.scope.blobs.url(job.subtitlesUrls.vtt), voiceLanguage(job, ctx.scope.signal)]).then(
    ([url, language]) => {
      const tag = language && languageTag(language);
      const name = language && languageName(language);
      const track = h('track', { kind: 'subtitles', src: url, default: true, srclang: tag || undefined, label: name ? `Subtitles (${name})` : 'Subtitles' });
      video.append(track);
      // `default` is only honoured for tracks present when the video loads; this one may
      // arrive later, so it is switched on as `default` would have.
      track.track.mode = 'showing';
    },
    (error) => {
      if (error.name === 'AbortError' || error.status === 401) return;
      note.after(h('p', { class: 'field-error', text: `The subtitles could not be loaded: ${error.message}` }));
    },
  );
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

  if (job.subtitlesUrls?.vtt) addSubtitles(video, job, ctx, note);

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
