// Thumbnails, videos and audio need the Authorization header, which <img>, <video> and <audio>
// cannot send. So the studio fetches them itself and shows them through blob: URLs, revoked
// when the screen that made them goes away.

import { send } from './api.js';
import { h } from './dom.js';

export class BlobCache {
  constructor(signal) {
    this.signal = signal;
    this.urls = new Map(); // path -> {version, pending: Promise<string>}
  }

  /**
   * A blob: URL of the bytes at `path` (fetched once per screen). Some paths serve new bytes
   * over time (a scene's narration after a regeneration): naming a new `version` fetches them
   * again and frees the blob of the version it replaces.
   */
  url(path, version = '') {
    const cached = this.urls.get(path);
    if (cached && cached.version === version) return cached.pending;
    if (cached) cached.pending.then((url) => URL.revokeObjectURL(url), () => {});
    const pending = send('GET', path, { signal: this.signal, headers: { Accept: '*/*' } })
      .then((response) => response.blob())
      .then((blob) => URL.createObjectURL(blob));
    const entry = { version, pending };
    pending.catch(() => {
      if (this.urls.get(path) === entry) this.urls.delete(path);
    });
    this.urls.set(path, entry);
    return pending;
  }

  /** An <img> that shows the picture once it has arrived, or a labelled placeholder. */
  image(path, alt, className = 'thumb') {
    const placeholder = h('span', { class: `${className} placeholder`, role: 'img', 'aria-label': alt ? `${alt} (no preview)` : 'No preview' });
    if (!path) return placeholder;
    const img = h('img', { class: className, alt, decoding: 'async' });
    const frame = h('span', { class: `${className}-frame loading` }, img);
    this.url(path).then(
      (url) => {
        img.src = url;
        frame.classList.remove('loading');
      },
      (error) => {
        if (error.name !== 'AbortError') frame.replaceWith(placeholder);
      },
    );
    return frame;
  }

  dispose() {
    for (const { pending } of this.urls.values()) {
      pending.then((url) => URL.revokeObjectURL(url), () => {});
    }
    this.urls.clear();
  }
}
