// The studio's only way to the server: /api/v3 with `Authorization: Bearer <key>` on every call.
// Failures become ApiError with the problem+json document's detail and field errors; a 401 also
// tells the app to return to sign-in.

import { apiKey } from './session.js';

export const API = '/api/v3';

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.problem = problem;
    // [{field: "adBasics.product", message: "…"}] for a 422.
    this.errors = Array.isArray(problem.errors) ? problem.errors : [];
  }
}

const unauthorizedListeners = new Set();

/** `listener(message)` runs whenever the server refuses the key (unknown, revoked). */
export function onUnauthorized(listener) {
  unauthorizedListeners.add(listener);
}

/** Tells the app the server refused the key; answers the error to throw. */
export function keyRefused(problem) {
  const error = new ApiError(401, problem);
  for (const listener of unauthorizedListeners) listener(error.message);
  return error;
}

/** The problem document of a failed response (a plain one when the body is not problem+json). */
export async function problemOf(response) {
  const type = response.headers.get('content-type') || '';
  if (type.includes('json')) {
    try {
      return await response.json();
    } catch {
      // fall through: a truncated body says no more than the status does
    }
  }
  return { status: response.status, title: response.statusText, detail: `the server answered ${response.status} ${response.statusText}` };
}

const OFFLINE = { detail: 'adpipe cannot be reached; check that it is running and try again' };

/** Headers for an authorized request (throws a 401 ApiError when signed out). */
export function authHeaders(extra = {}, key = apiKey()) {
  if (!key) throw keyRefused({ detail: 'sign in with an API key first' });
  return { Authorization: `Bearer ${key}`, ...extra };
}

/** fetch() with the key; 401 and other failures throw ApiError. Answers the Response. */
export async function send(method, path, { json, headers, signal, key } = {}) {
  const sent = authHeaders({ Accept: 'application/json', ...headers }, key || apiKey());
  if (json !== undefined) sent['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: sent,
      body: json === undefined ? undefined : JSON.stringify(json),
      signal,
      cache: 'no-store',
      credentials: 'omit',
    });
  } catch (error) {
    if (error.name === 'AbortError') throw error;
    throw new ApiError(0, OFFLINE);
  }
  if (response.status === 401) {
    const problem = await problemOf(response);
    // A candidate key being checked at sign-in is not "the session's key was revoked".
    if (key) throw new ApiError(401, problem);
    throw keyRefused(problem);
  }
  if (!response.ok) throw new ApiError(response.status, await problemOf(response));
  return response;
}

async function json(method, path, options) {
  const response = await send(method, path, options);
  return response.status === 204 ? null : response.json();
}

const enc = encodeURIComponent;
// Create and act answer at once (202) instead of holding the request while the planner works;
// the job's event stream says when the storyboard is ready.
const ASYNC = { Prefer: 'respond-async' };

export const api = {
  checkKey: (key) => json('GET', `${API}/jobs?pageSize=1`, { key }),
  clients: (signal) => json('GET', `${API}/clients?pageSize=100`, { signal }),
  createClient: (name) => json('POST', `${API}/clients`, { json: { name } }),
  campaigns: (clientId, signal) => json('GET', `${API}/campaigns?clientId=${enc(clientId)}&pageSize=100`, { signal }),
  createCampaign: (clientId, name) => json('POST', `${API}/campaigns`, { json: { clientId, name } }),
  jobs: (page, pageSize, signal) => json('GET', `${API}/jobs?page=${page}&pageSize=${pageSize}`, { signal }),
  job: (id, signal) => json('GET', `${API}/jobs/${enc(id)}`, { signal }),
  createJob: (body) => json('POST', `${API}/jobs`, { json: body, headers: ASYNC }),
  act: (id, body) => json('POST', `${API}/jobs/${enc(id)}/actions`, { json: body, headers: ASYNC }),
  updateScene: (id, number, edit) => json('PUT', `${API}/jobs/${enc(id)}/scenes/${number}`, { json: edit }),
  voices: (signal) => json('GET', `${API}/voices`, { signal }),
};

/**
 * Uploads a file as multipart/form-data to POST /assets. XMLHttpRequest rather than fetch():
 * only it reports upload progress. Answers {promise, abort}; `onProgress(fraction)` as bytes go.
 */
export function uploadAsset(file, fields, onProgress) {
  const xhr = new XMLHttpRequest();
  const promise = new Promise((resolve, reject) => {
    const form = new FormData();
    for (const [name, value] of Object.entries(fields)) if (value) form.append(name, value);
    form.append('file', file, file.name);
    xhr.open('POST', `${API}/assets`);
    for (const [name, value] of Object.entries(authHeaders({ Accept: 'application/json' }))) {
      xhr.setRequestHeader(name, value);
    }
    xhr.responseType = 'text';
    xhr.upload.addEventListener('progress', (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    });
    xhr.addEventListener('load', () => {
      let body = {};
      try {
        body = JSON.parse(xhr.responseText || '{}');
      } catch {
        body = { detail: `the server answered ${xhr.status}` };
      }
      if (xhr.status === 401) reject(keyRefused(body));
      else if (xhr.status >= 200 && xhr.status < 300) resolve(body);
      else reject(new ApiError(xhr.status, body));
    });
    xhr.addEventListener('error', () => reject(new ApiError(0, OFFLINE)));
    xhr.addEventListener('abort', () => reject(new DOMException('upload cancelled', 'AbortError')));
    xhr.send(form);
  });
  return { promise, abort: () => xhr.abort() };
}
