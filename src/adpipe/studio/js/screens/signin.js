// Sign-in: the API key is checked against the server before it is kept for this tab.

import { api } from '../api.js';
import { field, h, showScreen } from '../dom.js';
import { signIn } from '../session.js';

/** Shows the sign-in form; `message` explains why (a refused key); `done()` after signing in. */
export function signInScreen(main, { message, done }) {
  const input = h('input', {
    type: 'password',
    name: 'apiKey',
    autocomplete: 'off',
    spellcheck: 'false',
    required: true,
  });
  const key = field('API key', input, {
    hint: 'Paste the key that make run (adpipe up) printed; it is also in .adpipe/dev-api-key. It is kept in this browser tab only, until you close it.',
  });
  const button = h('button', { type: 'submit', class: 'primary', text: 'Sign in' });
  const form = h('form', { class: 'card narrow', novalidate: true }, key.wrapper, h('div', { class: 'actions' }, button));
  const screen = h('section', { class: 'screen', 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title', text: 'Sign in to adpipe studio' }),
    form);
  showScreen(main, screen);
  if (message) {
    key.error(message);
    input.focus();
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const candidate = input.value.trim();
    if (!candidate) {
      key.error('Enter your API key.');
      input.focus();
      return;
    }
    button.disabled = true;
    button.textContent = 'Checking…';
    try {
      await api.checkKey(candidate);
      signIn(candidate);
      done();
    } catch (error) {
      key.error(error.status === 401
        ? `That API key was not accepted: ${error.message}.`
        : `Could not sign in: ${error.message}.`);
      input.focus();
      input.select();
    } finally {
      button.disabled = false;
      button.textContent = 'Sign in';
    }
  });
}
