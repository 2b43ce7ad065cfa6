// The studio's entry: sign-in, hash routing (a reload returns to the same screen), and the
// screens' lifetimes. Everything the studio does goes through the public /api/v3.

import { onUnauthorized } from './api.js';
import { h, showScreen } from './dom.js';
import { Scope } from './scope.js';
import { createScreen } from './screens/create.js';
import { jobScreen } from './screens/job.js';
import { jobsScreen } from './screens/jobs.js';
import { signInScreen } from './screens/signin.js';
import { apiKey, signOut } from './session.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');

const ROUTES = [
  [/^#\/new$/, createScreen],
  [/^#\/jobs\/([^/?#]+)$/, jobScreen, (m) => ({ id: decodeURIComponent(m[1]) })],
  [/^#\/jobs(?:\?page=(\d+))?$/, jobsScreen, (m) => ({ page: m[1] })],
];

let scope = null;
let refusal = null; // why the last key was refused, for the sign-in screen

function problemScreen(error) {
  const missing = error.status === 404;
  showScreen(main, h('section', { class: 'screen' },
    h('h1', { text: missing ? 'Not Found' : 'Something Went Wrong' }),
    h('div', { class: 'card notice error', role: 'alert' }, h('p', { text: missing ? `${error.message}. It may belong to another user.` : error.message })),
    h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'secondary', text: 'Try again', onclick: route }),
      h('a', { class: 'button primary', href: '#/jobs', text: 'Back to your ads' }))));
}

function route() {
  scope?.dispose();
  scope = new Scope(problemScreen);
  if (!apiKey()) {
    nav.hidden = true;
    const message = refusal;
    refusal = null;
    signInScreen(main, { message, done: route });
    return;
  }
  nav.hidden = false;
  const hash = window.location.hash || '#/jobs';
  for (const [pattern, screen, params] of ROUTES) {
    const match = pattern.exec(hash);
    if (match) {
      screen(main, params ? params(match) : {}, scope).catch(scope.fail);
      return;
    }
  }
  window.location.replace('#/jobs');
}

onUnauthorized((message) => {
  if (!apiKey()) return;
  signOut();
  refusal = `Your API key is no longer accepted (${message}). Enter a valid key to go on.`;
  route();
});

document.getElementById('sign-out').addEventListener('click', () => {
  signOut();
  route();
});

// The skip link jumps to the screen's heading without touching the route in the hash.
document.getElementById('skip-link').addEventListener('click', (event) => {
  event.preventDefault();
  (main.querySelector('h1') || main).focus();
});

window.addEventListener('hashchange', route);
route();
