// Asking before acting: a modal <dialog> (focus stays inside it, Escape cancels) that returns
// the feedback typed, or null when the user backs out.

import { field, h, uid } from './dom.js';

/**
 * ask({title, message, label, required, missing, confirm, cancel}) → Promise<string | null>.
 * Without `label` it is a plain confirmation and answers '' when confirmed; `missing` is what
 * a required field says when left empty.
 */
export function ask({ title, message, label, required = false, missing = 'Required.', confirm, cancel = 'Cancel' }) {
  const opener = document.activeElement;
  return new Promise((resolve) => {
    const titleId = uid('dialog-title');
    const input = label ? h('textarea', { rows: 3, maxlength: 2000, required }) : null;
    const feedback = input ? field(label, input) : null;
    const form = h(
      'form',
      { method: 'dialog', class: 'dialog-form', novalidate: true },
      h('h2', { id: titleId, text: title }),
      message ? h('p', { text: message }) : null,
      feedback && feedback.wrapper,
      h(
        'div',
        { class: 'actions' },
        h('button', { type: 'button', class: 'secondary', text: cancel, onclick: () => finish(null) }),
        h('button', { type: 'submit', class: 'primary', text: confirm }),
      ),
    );
    const dialog = h('dialog', { 'aria-labelledby': titleId }, form);
    let answered = false;

    function finish(value) {
      if (answered) return;
      answered = true;
      dialog.close();
      dialog.remove();
      if (opener && opener.isConnected) opener.focus();
      resolve(value);
    }

    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const text = input ? input.value.trim() : '';
      if (required && !text) {
        feedback.error(missing);
        input.focus();
        return;
      }
      finish(text);
    });
    dialog.addEventListener('cancel', (event) => {
      event.preventDefault();
      finish(null);
    });
    document.body.append(dialog);
    dialog.showModal();
    (input || form.querySelector('button.primary')).focus();
  });
}
