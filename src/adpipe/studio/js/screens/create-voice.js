// The form's voiceover: on or off, the voice and its pace. The voices and the pace's range come
// from GET /voices (each voice's name and language; a cloud voice is marked as needing the
// network), so the form offers only what this deployment speaks. Written as creative.voiceover.

import { api } from '../api.js';
import { field, h } from '../dom.js';
import { languageName } from '../format.js';

/** What a voice is called in the list: its language as people say it, its name, and whether
 * it needs the network ("English (United States) · en-us", "alloy · multilingual · needs network"). */
function voiceLabel(voice) {
  const language = languageName(voice.language);
  const parts = language ? [language, voice.name] : [voice.name];
  if (!language && voice.language !== voice.name) parts.push(voice.language);
  if (voice.needsNetwork) parts.push('needs network');
  return parts.join(' · ');
}

function voiceOptions(voices) {
  const option = (v) => h('option', { value: v.name, text: voiceLabel(v) });
  const byLabel = (a, b) => voiceLabel(a).localeCompare(voiceLabel(b));
  const offline = voices.filter((v) => !v.needsNetwork).sort(byLabel);
  const cloud = voices.filter((v) => v.needsNetwork).sort(byLabel);
  if (!cloud.length) return offline.map(option);
  return [
    h('optgroup', { label: 'Offline voices' }, offline.map(option)),
    h('optgroup', { label: 'Cloud voices (need the network)' }, cloud.map(option)),
  ];
}

export function voiceoverSection(scope) {
  const enabled = h('input', { type: 'checkbox', name: 'voiceover', checked: true });
  const voice = h('select', { name: 'voice', disabled: true }, h('option', { value: '', text: 'Loading voices…' }));
  const speed = h('input', { type: 'number', name: 'speed', min: 0.5, max: 2, step: 0.05, value: '1', inputmode: 'decimal' });
  const toggle = field('Voiceover', enabled, { hint: 'Each scene’s script is spoken.' });
  toggle.wrapper.classList.add('check');
  const voiceField = field('Voice', voice);
  const speedField = field('Speed', speed, { hint: 'Times the voice’s normal pace.' });
  const speedHint = speedField.wrapper.querySelector('.hint');
  let loaded = false;

  function sync() {
    voice.disabled = !enabled.checked || !loaded;
    speed.disabled = !enabled.checked;
  }
  enabled.addEventListener('change', sync);

  const ready = api.voices(scope.signal).then(
    (answer) => {
      voice.replaceChildren(...voiceOptions(answer.items));
      voice.value = answer.default;
      speed.min = String(answer.speedMin);
      speed.max = String(answer.speedMax);
      speedHint.textContent = `${answer.speedMin} to ${answer.speedMax} times the voice’s normal pace.`;
      loaded = true;
      sync();
    },
    (error) => {
      if (error.name === 'AbortError' || error.status === 401) return;
      // The API's default voice still speaks; say why the choice is missing.
      voice.replaceChildren(h('option', { value: '', text: 'The default voice' }));
      voiceField.error(`The voices could not be listed: ${error.message}`);
    },
  );

  return {
    element: h('div', { class: 'grid three' }, toggle.wrapper, voiceField.wrapper, speedField.wrapper),
    ready,
    fields: {
      'creative.voiceover': toggle,
      'creative.voiceover.enabled': toggle,
      'creative.voiceover.voice': voiceField,
      'creative.voiceover.speed': speedField,
    },
    check() {
      if (!enabled.checked || speed.value.trim()) return [];
      return [[speedField, 'Required.']];
    },
    write(body) {
      if (!enabled.checked) {
        body.creative.voiceover = { enabled: false };
        return;
      }
      body.creative.voiceover = { enabled: true, speed: Number(speed.value) };
      if (loaded && voice.value) body.creative.voiceover.voice = voice.value;
    },
  };
}
