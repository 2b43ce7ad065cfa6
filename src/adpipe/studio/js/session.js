// The API key lives in sessionStorage only: it survives a reload of this tab and is gone when the
// tab closes. Never in localStorage (it would outlive the session) and never in a URL (history,
// logs and Referer headers would keep it).

const STORAGE_KEY = 'adpipe.apiKey';

export function apiKey() {
  return window.sessionStorage.getItem(STORAGE_KEY);
}

export function signIn(key) {
  window.sessionStorage.setItem(STORAGE_KEY, key);
}

export function signOut() {
  window.sessionStorage.removeItem(STORAGE_KEY);
}
