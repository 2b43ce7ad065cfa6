// One scene of the storyboard: "Scene N (Ds)", its preview, description and script, with
// "Regenerate" and an inline editor saved with PUT. What a card shows is the list SCENE_PARTS,
// among them the scene's narration: a player once it is spoken, else why there is none yet.

import { api } from '../api.js';
import { field, h } from '../dom.js';
import { seconds } from '../format.js';

function scenePreview(scene, job, ctx) {
  // The scene's first asset that has a picture (audio has none).
  const asset = scene.assets.map((id) => job.assets.find((a) => a.id === id)).find((a) => a?.thumbnailUrl);
  return h('div', { class: 'scene-preview' }, ctx.scope.blobs.image(asset?.thumbnailUrl, asset ? `Preview: ${asset.name}` : '', 'preview'));
}

function sceneDescription(scene) {
  return h('div', { class: 'scene-part' }, h('p', { class: 'part-label', text: 'Description' }), h('p', { class: 'description', text: scene.description }));
}

function sceneScript(scene) {
  return h('div', { class: 'scene-part' }, h('p', { class: 'part-label', text: 'Script' }), h('blockquote', { class: 'script', text: `“${scene.script}”` }));
}

function sceneShot(scene) {
  return h('p', { class: 'hint', text: `Shot: ${scene.shotType} · Transition: ${scene.transition}` });
}

/**
 * The scene's narration (its `voiceover` block): an <audio> player once it is ready, fetched
 * with the key and played from a blob: URL; "Narration pending…" while the voice service
 * speaks it; the error when it failed. A new narration (after an edit or a regeneration) has
 * other timings, so the block itself is the blob's version: the card fetches the new audio.
 */
function sceneNarration(scene, job, ctx) {
  const n = scene.sceneNumber;
  const voiceover = scene.voiceover;
  const part = (...children) => h('div', { class: 'scene-part narration' }, h('p', { class: 'part-label', text: 'Narration' }), children);
  if (!voiceover || voiceover.status === 'none') {
    if (!job.creative.voiceover?.enabled) return null;
    return part(h('p', { class: 'hint', text: 'No narration: the script says nothing.' }));
  }
  if (voiceover.status === 'pending') {
    return part(h('p', { class: 'busy-note narration-pending', text: 'Narration pending…' }));
  }
  if (voiceover.status === 'failed') {
    return part(
      h('p', { class: 'field-error narration-error', text: `The narration failed: ${voiceover.error?.message || 'no reason given'}` }),
      h('p', { class: 'hint', text: 'Edit or regenerate the scene to try again.' }));
  }
  const audio = h('audio', { controls: true, preload: 'metadata', 'aria-label': `Narration of scene ${n}` });
  const problem = h('p', { class: 'field-error', hidden: true });
  ctx.scope.blobs.url(voiceover.url, JSON.stringify(voiceover)).then(
    (url) => {
      audio.src = url;
    },
    (error) => {
      if (error.name === 'AbortError') return;
      problem.textContent = `The narration could not be loaded: ${error.message}`;
      problem.hidden = false;
    },
  );
  const speed = voiceover.speed && voiceover.speed !== 1 ? ` at ${voiceover.speed}×` : '';
  return part(
    audio,
    problem,
    h('p', { class: 'hint', text: `${seconds(voiceover.durationSeconds)} spoken by ${voiceover.voice}${speed}` }),
    voiceover.note ? h('p', { class: 'narration-note', text: voiceover.note }) : null);
}

const SCENE_PARTS = [sceneDescription, sceneScript, sceneNarration, sceneShot];

/**
 * A card for `scene`. `busy` says a regeneration of it runs (the card says so and its buttons
 * wait); `locked` that another change runs. `actions` has regenerate(n), saved(n) and closed().
 */
export function sceneCard(scene, job, ctx, { busy, locked, actions }) {
  const n = scene.sceneNumber;
  const heading = h('h2', { tabindex: '-1', text: `Scene ${n} (${seconds(scene.duration)})` });
  const edit = h('button', { type: 'button', class: 'secondary small', text: 'Edit', 'aria-label': `Edit scene ${n}`, 'data-focus': 'edit', disabled: locked });
  const regenerate = h('button', { type: 'button', class: 'secondary small', text: 'Regenerate', 'aria-label': `Regenerate scene ${n}`, 'data-focus': 'regenerate', disabled: locked });
  const body = h('div', { class: 'scene-body' }, scenePreview(scene, job, ctx), h('div', { class: 'scene-text' }, SCENE_PARTS.map((part) => part(scene, job, ctx))));
  const card = h('li', { class: `scene card${busy ? ' busy' : ''}`, 'aria-busy': busy ? 'true' : 'false', 'data-scene': n },
    h('div', { class: 'scene-head' }, heading, h('div', { class: 'actions' }, edit, regenerate)),
    busy ? h('p', { class: 'busy-note', text: 'Regenerating this scene…' }) : null,
    body);

  regenerate.addEventListener('click', () => actions.regenerate(n));
  edit.addEventListener('click', () => {
    card.dataset.editing = 'true';
    body.replaceWith(editor(scene, job, {
      done(saved) {
        delete card.dataset.editing;
        if (saved) {
          actions.saved(n);
        } else {
          card.querySelector('form.scene-editor').replaceWith(body);
          edit.focus();
          actions.closed(); // redraws the card if the storyboard changed while it was open
        }
      },
    }));
  });
  return card;
}

/** The inline editor: description, script and duration, saved with PUT …/scenes/{n}. */
function editor(scene, job, { done }) {
  const n = scene.sceneNumber;
  const fields = {
    description: field('Description', h('textarea', { rows: 3, maxlength: 2000, required: true, value: scene.description })),
    script: field('Script', h('textarea', { rows: 2, maxlength: 2000, required: true, value: scene.script })),
    duration: field('Duration (seconds)', h('input', { type: 'number', min: 0.5, max: 120, step: 0.5, value: String(scene.duration), required: true })),
  };
  const problem = h('p', { class: 'field-error', role: 'alert', hidden: true });
  const save = h('button', { type: 'submit', class: 'primary small', text: 'Save' });
  const cancel = h('button', { type: 'button', class: 'secondary small', text: 'Cancel', onclick: () => done(false) });
  const form = h('form', { class: 'scene-editor', novalidate: true, 'aria-label': `Edit scene ${n}` },
    Object.values(fields).map((f) => f.wrapper), problem, h('div', { class: 'actions' }, save, cancel));

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    problem.hidden = true;
    for (const f of Object.values(fields)) f.clear();
    const edit = {
      description: fields.description.control.value.trim(),
      script: fields.script.control.value.trim(),
      duration: Number(fields.duration.control.value),
    };
    const empty = Object.entries(fields).find(([name]) => !String(edit[name] || '').trim() || (name === 'duration' && !edit.duration));
    if (empty) {
      empty[1].error('Required.');
      empty[1].control.focus();
      return;
    }
    save.disabled = true;
    try {
      await api.updateScene(job.id, n, edit);
      done(true);
    } catch (error) {
      save.disabled = false;
      if (error.status === 401) return;
      const placed = error.errors.find((e) => fields[e.field]);
      if (placed) {
        fields[placed.field].error(placed.message);
        fields[placed.field].control.focus();
      } else {
        problem.textContent = `Not saved: ${error.message}`;
        problem.hidden = false;
      }
    }
  });
  window.setTimeout(() => fields.description.control.focus(), 0);
  return form;
}
