// Server-sent events read with fetch(): EventSource cannot send an Authorization header. The
// parser follows the HTML spec's event-stream format; `follow` reconnects after a dropped
// connection with Last-Event-ID, so the server resumes exactly after the last event seen.

import { ApiError, authHeaders, keyRefused, problemOf } from './api.js';
import { delay } from './dom.js';

/** Turns decoded text chunks into {event, data, id} messages, whatever the chunk boundaries. */
export class SseParser {
  constructor() {
    this.buffer = '';
    this.data = [];
    this.event = '';
    this.lastEventId = '';
    this.retry = null;
  }

  /** Feeds text; answers the messages it completed. */
  push(text) {
    this.buffer += text;
    const messages = [];
    for (;;) {
      const end = this.buffer.search(/\r\n|\r|\n/);
      if (end < 0) break;
      // A lone \r at the very end may be half of \r\n: wait for the next chunk to decide.
      if (this.buffer[end] === '\r' && end === this.buffer.length - 1) break;
      const line = this.buffer.slice(0, end);
      const width = this.buffer.startsWith('\r\n', end) ? 2 : 1;
      this.buffer = this.buffer.slice(end + width);
      const message = this.line(line);
      if (message) messages.push(message);
    }
    return messages;
  }

  line(line) {
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) return null; // a comment (the server's heartbeat)
    const colon = line.indexOf(':');
    const name = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (name === 'data') this.data.push(value);
    else if (name === 'event') this.event = value;
    else if (name === 'id' && !value.includes('\0')) this.lastEventId = value;
    else if (name === 'retry' && /^\d+$/.test(value)) this.retry = Number(value);
    return null;
  }

  dispatch() {
    const message = this.data.length
      ? { event: this.event || 'message', data: this.data.join('\n'), id: this.lastEventId }
      : null;
    this.data = [];
    this.event = '';
    return message;
  }
}

/**
 * Follows an event stream until `close()` or until `isLast(message)` is true for a message.
 * A stream that breaks off is resumed with Last-Event-ID after a short, growing pause;
 * `onState('live' | 'reconnecting')` says which is happening. A 401 goes to the app's sign-in
 * (through api.js); other refusals (404) end the stream with `onError(error)`.
 */
export function follow(path, { onMessage, isLast = () => false, onState = () => {}, onError = () => {} }) {
  const controller = new AbortController();
  let lastEventId = '';
  let retryMs = 1000;

  async function readAll(body) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    const parser = new SseParser();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return false;
      for (const message of parser.push(value)) {
        lastEventId = message.id || lastEventId;
        onMessage(message);
        if (isLast(message)) {
          controller.abort();
          return true;
        }
      }
      if (parser.retry !== null) retryMs = parser.retry;
    }
  }

  async function run() {
    let failures = 0;
    while (!controller.signal.aborted) {
      try {
        const headers = authHeaders({ Accept: 'text/event-stream' });
        if (lastEventId) headers['Last-Event-ID'] = lastEventId;
        const response = await fetch(path, { headers, signal: controller.signal, cache: 'no-store', credentials: 'omit' });
        if (response.status === 401) {
          keyRefused(await problemOf(response));
          return;
        }
        if (!response.ok) {
          const error = new ApiError(response.status, await problemOf(response));
          if (response.status < 500) {
            onError(error);
            return;
          }
          throw error;
        }
        onState('live');
        failures = 0;
        if (await readAll(response.body)) return;
      } catch (error) {
        if (controller.signal.aborted) return;
        if (error instanceof ApiError && error.status === 401) return;
      }
      // Dropped (network, server restart) or ended early: resume where we were.
      onState('reconnecting');
      failures += 1;
      try {
        await delay(Math.min(retryMs * 2 ** Math.min(failures - 1, 4), 15000), controller.signal);
      } catch {
        return;
      }
    }
  }

  run();
  return { close: () => controller.abort() };
}
