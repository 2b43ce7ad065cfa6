// How numbers, times and statuses read on screen.

const STATUS_LABELS = {
  pending: 'Planning',
  storyboard_review: 'Storyboard review',
  in_progress: 'Queued for rendering',
  rendering: 'Rendering',
  completed: 'Completed',
  failed: 'Failed',
  cancelled: 'Cancelled',
};

export const TERMINAL = new Set(['completed', 'failed', 'cancelled']);

export function statusLabel(status) {
  return STATUS_LABELS[status] || status;
}

/** 6 → "6s", 7.5 → "7.5s", 95 → "1m 35s". */
export function seconds(value) {
  const total = Math.round(value * 10) / 10;
  if (total < 60) return `${total}s`;
  const minutes = Math.floor(total / 60);
  const rest = Math.round(total - minutes * 60);
  return rest ? `${minutes}m ${rest}s` : `${minutes}m`;
}

/** A render's ETA as a person would say it. */
export function remaining(etaSeconds) {
  if (etaSeconds === null || etaSeconds === undefined) return 'calculating…';
  const s = Math.max(0, Math.round(etaSeconds));
  if (s < 5) return 'a few seconds';
  if (s < 60) return `${s} seconds`;
  const minutes = Math.round(s / 60);
  return minutes === 1 ? 'about 1 minute' : `about ${minutes} minutes`;
}

export function money(amount, currency) {
  try {
    return new Intl.NumberFormat(undefined, { style: 'currency', currency, minimumFractionDigits: 2, maximumFractionDigits: 4 }).format(amount);
  } catch {
    return `${amount.toFixed(2)} ${currency}`;
  }
}

export function dateTime(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' }).format(date);
}

/**
 * An ISO timestamp as microseconds since the epoch, so that two instants recorded within one
 * millisecond still compare correctly (Date keeps milliseconds only).
 */
export function microseconds(iso) {
  const match = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(.*)$/.exec(iso || '');
  if (!match) return 0;
  const millis = Date.parse(`${match[1]}${match[3] || 'Z'}`);
  const fraction = (match[2] || '').padEnd(6, '0').slice(0, 6);
  return millis * 1000 + Number(fraction);
}

let languageNames = null;
try {
  languageNames = new Intl.DisplayNames(undefined, { type: 'language', languageDisplay: 'standard' });
} catch {
  // an engine without display names shows the language codes as they are
}

/** A BCP 47 tag in its canonical form ("en-us" → "en-US"), or null when it is not one. */
export function languageTag(code) {
  try {
    return Intl.getCanonicalLocales(code)[0] || null;
  } catch {
    return null; // "multilingual", or a name only the engine understands
  }
}

/** "en-us" → "English (United States)"; '' when the browser does not know the language. */
export function languageName(code) {
  const tag = languageTag(code);
  if (!tag || !languageNames) return '';
  try {
    const name = languageNames.of(tag);
    return name && name !== tag ? name : '';
  } catch {
    return '';
  }
}
