// A screen's lifetime: what it fetched, streamed or uploaded ends when the user leaves it.

import { BlobCache } from './blobs.js';

export class Scope {
  /** `fail(error)` shows an unexpected error in place of the screen. */
  constructor(fail) {
    this.controller = new AbortController();
    this.signal = this.controller.signal;
    this.blobs = new BlobCache(this.signal);
    this.disposers = [];
    this.fail = (error) => {
      if (this.signal.aborted || error?.name === 'AbortError' || error?.status === 401) return;
      fail(error);
    };
  }

  onDispose(fn) {
    this.disposers.push(fn);
  }

  dispose() {
    this.controller.abort();
    for (const fn of this.disposers.splice(0)) {
      try {
        fn();
      } catch {
        // a finished upload or closed stream has nothing left to stop
      }
    }
    this.blobs.dispose();
  }
}
