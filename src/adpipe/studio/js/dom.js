// Building the page from data. User text only ever becomes Text nodes or attribute values, never
// markup: no string is ever parsed as HTML here, and the CSP's Trusted Types would refuse it.

let counter = 0;

/** A unique element id with a readable prefix. */
export function uid(prefix) {
  counter += 1;
  return `${prefix}-${counter}`;
}

// Set as DOM properties rather than attributes (their attribute forms mean "initial" values).
const PROPERTIES = new Set(['value', 'checked', 'disabled', 'required', 'hidden', 'multiple', 'selected']);

/** h('button', {type: 'button', onclick: fn, text: 'Go'}, child, …): an element, safely. */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = String(value);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (PROPERTIES.has(key)) el[key] = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  return append(el, children);
}

/** Appends nodes and strings (as Text nodes); skips null, undefined and false. */
export function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : String(child));
  }
  return parent;
}

/** Replaces the main region with a screen and moves focus to its heading, as a page load would. */
export function showScreen(main, screen) {
  main.replaceChildren(screen);
  const heading = screen.querySelector('h1');
  if (heading) {
    heading.setAttribute('tabindex', '-1');
    document.title = `${heading.textContent.trim()} · adpipe studio`;
    heading.focus();
  }
}

/** Says something to screen-reader users without moving focus. */
export function announce(message) {
  const region = document.getElementById('announcer');
  if (!region) return;
  region.textContent = '';
  // A fresh text node after clearing makes screen readers repeat an identical message.
  window.setTimeout(() => { region.textContent = message; }, 50);
}

/**
 * A labelled form control with a slot for its error. `error(message)` shows a message next to
 * the field and marks the control invalid; `clear()` removes it.
 */
export function field(labelText, control, { hint } = {}) {
  if (!control.id) control.id = uid('field');
  const hintNode = hint ? h('p', { class: 'hint', id: `${control.id}-hint`, text: hint }) : null;
  const errorNode = h('p', { class: 'field-error', id: `${control.id}-error`, hidden: true });
  const describedBy = () => [hintNode && hintNode.id, !errorNode.hidden && errorNode.id].filter(Boolean).join(' ');
  const sync = () => {
    const ids = describedBy();
    if (ids) control.setAttribute('aria-describedby', ids);
    else control.removeAttribute('aria-describedby');
  };
  sync();
  const wrapper = h('div', { class: 'field' }, h('label', { for: control.id, text: labelText }), control, hintNode, errorNode);
  return {
    wrapper,
    control,
    error(message) {
      errorNode.textContent = message;
      errorNode.hidden = false;
      control.setAttribute('aria-invalid', 'true');
      sync();
    },
    clear() {
      errorNode.textContent = '';
      errorNode.hidden = true;
      control.removeAttribute('aria-invalid');
      sync();
    },
  };
}

/** A <select> of [value, label] pairs. */
export function select(options, props = {}) {
  const el = h('select', props);
  setOptions(el, options);
  return el;
}

export function setOptions(selectEl, options, chosen) {
  selectEl.replaceChildren(...options.map(([value, label]) => h('option', { value, text: label })));
  if (chosen !== undefined) selectEl.value = chosen;
}

/** A promise resolved after `ms`, or rejected when `signal` aborts. */
export function delay(ms, signal) {
  return new Promise((resolve, reject) => {
    const timer = window.setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      window.clearTimeout(timer);
      reject(signal.reason);
    }, { once: true });
  });
}
