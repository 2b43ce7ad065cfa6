// "Create Video Ad": the seed's creation form. It is a list of sections, each rendering its
// controls, checking what the browser can check, and writing its part of the POST /jobs body;
// a creative option such as the voiceover is one more section.

import { api } from '../api.js';
import { append, field, h, select, showScreen } from '../dom.js';
import { assetsSection } from './create-assets.js';
import { contextSection } from './create-context.js';
import { voiceoverSection } from './create-voice.js';

function text(name, label, { required = true, placeholder, maxlength = 2000 } = {}) {
  const input = h('input', { type: 'text', name, required, placeholder, maxlength, autocomplete: 'off' });
  return field(label, input);
}

/** A section of plain text fields: `specs` are [apiPath, label, options]. */
function textSection(specs, className = 'grid two') {
  const fields = {};
  const element = h('div', { class: className });
  for (const [path, label, options] of specs) {
    fields[path] = text(path.split('.').pop(), label, options);
    element.append(fields[path].wrapper);
  }
  return {
    element,
    fields,
    check() {
      return Object.entries(fields)
        .filter(([, f]) => f.control.required && !f.control.value.trim())
        .map(([, f]) => [f, 'Required.']);
    },
    write(body) {
      for (const [path, f] of Object.entries(fields)) {
        const value = f.control.value.trim();
        if (!value && !f.control.required) continue;
        const keys = path.split('.');
        let target = body;
        for (const key of keys.slice(0, -1)) target = target[key] ??= {};
        target[keys.at(-1)] = value;
      }
    },
  };
}

function basicsSection() {
  return textSection([
    ['adBasics.product', 'Product', { placeholder: 'Smart Watch' }],
    ['adBasics.targetAudience', 'Audience', { placeholder: 'Tech enthusiasts 25-40' }],
    ['adBasics.keyMessage', 'Message', { placeholder: 'Stay connected' }],
    ['adBasics.callToAction', 'CTA', { placeholder: 'Buy Now' }],
  ]);
}

function directionSection() {
  return textSection([
    ['creative.direction.style', 'Style', { placeholder: 'Modern' }],
    ['creative.direction.tone', 'Tone (optional)', { required: false, placeholder: 'Energetic', maxlength: 500 }],
  ]);
}

function formatSection() {
  const duration = field('Duration (seconds)', h('input', { type: 'number', name: 'durationSeconds', min: 6, max: 120, step: 1, value: '30', inputmode: 'numeric' }), { hint: '6 to 120 seconds' });
  const aspect = field('Aspect ratio', select([['16:9', '16:9 landscape'], ['9:16', '9:16 vertical'], ['1:1', '1:1 square']], { name: 'aspectRatio' }));
  const resolution = field('Resolution', select([['1080p', '1080p'], ['720p', '720p']], { name: 'resolution' }));
  return {
    element: h('div', { class: 'grid three' }, duration.wrapper, aspect.wrapper, resolution.wrapper),
    fields: { 'creative.durationSeconds': duration, 'creative.aspectRatio': aspect, 'creative.resolution': resolution },
    check() {
      return duration.control.value.trim() ? [] : [[duration, 'Required.']];
    },
    write(body) {
      body.creative.durationSeconds = Number(duration.control.value);
      body.creative.aspectRatio = aspect.control.value;
      body.creative.resolution = resolution.control.value;
    },
  };
}

/** msgspec's wording, said for people (the API's own message is kept when none applies). */
export function friendly(path, message) {
  let match;
  if ((match = /Expected `\w+` <= ([\d.]+)/.exec(message))) return `Must be at most ${Number(match[1])}.`;
  if ((match = /Expected `\w+` >= ([\d.]+)/.exec(message))) return `Must be at least ${Number(match[1])}.`;
  if ((match = /of length <= (\d+)/.exec(message))) return `At most ${match[1]} characters.`;
  if (/matching regex/.test(message)) {
    return /url$/i.test(path) ? 'Must be a web address starting with http:// or https://.' : 'Must not be blank.';
  }
  return message.charAt(0).toUpperCase() + message.slice(1);
}

export async function createScreen(main, _params, scope) {
  const context = contextSection(scope);
  const sections = [context, basicsSection(), directionSection(), formatSection(), voiceoverSection(scope), assetsSection(scope, context)];
  const fields = Object.assign({}, ...sections.map((s) => s.fields));
  const summary = h('div', { class: 'error-summary', role: 'alert', hidden: true, tabindex: '-1' });
  const submit = h('button', { type: 'submit', class: 'primary', text: 'Create Video Ad' });
  const cancel = h('a', { class: 'button secondary', href: '#/jobs', text: 'Cancel' });
  const form = h('form', { class: 'card', novalidate: true, 'aria-labelledby': 'create-title' },
    summary,
    sections.map((s) => s.element),
    h('div', { class: 'actions split' }, cancel, submit));
  showScreen(main, h('section', { class: 'screen' }, h('h1', { id: 'create-title', text: 'Create Video Ad' }), form));
  await context.ready;

  function clearErrors() {
    summary.hidden = true;
    summary.replaceChildren();
    for (const f of Object.values(fields)) f.clear();
    for (const s of sections) s.clearErrors?.();
  }

  /** Shows each [fieldHandle | null, message]; focuses the first field with a problem. */
  function showErrors(problems, heading) {
    const unplaced = [];
    for (const [f, message] of problems) {
      if (f) f.error(message);
      else unplaced.push(message);
    }
    summary.replaceChildren();
    append(summary, [h('p', { text: heading }), unplaced.length > 0 && h('ul', {}, unplaced.map((m) => h('li', { text: m })))]);
    summary.hidden = false;
    const first = problems.find(([f]) => f);
    (first ? first[0].control : summary).focus();
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors();
    const problems = sections.flatMap((s) => s.check());
    if (problems.length) {
      showErrors(problems, 'Please fill in the fields marked below.');
      return;
    }
    const body = { context: {}, adBasics: {}, creative: { direction: {} } };
    for (const s of sections) s.write(body);
    submit.disabled = true;
    submit.textContent = 'Creating…';
    try {
      const job = await api.createJob(body);
      window.location.hash = `#/jobs/${encodeURIComponent(job.id)}`;
    } catch (error) {
      if (error.status === 401) return;
      const placed = [];
      for (const { field: path, message } of error.errors) {
        const text = friendly(path, message);
        const assets = sections.find((s) => s.showError);
        if (fields[path]) placed.push([fields[path], text]);
        else if (assets.showError(path, text)) placed.push([null, `Asset ${Number(/\[(\d+)\]/.exec(path)[1]) + 1}: ${text}`]);
        else placed.push([null, `${path}: ${text}`]);
      }
      showErrors(placed.length ? placed : [[null, error.message]], error.status === 422 ? 'The ad could not be created: please correct the fields marked below.' : 'The ad could not be created.');
    } finally {
      submit.disabled = false;
      submit.textContent = 'Create Video Ad';
    }
  });
}
