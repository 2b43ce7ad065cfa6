// The form's assets: "+ Add URL" (fetched by adpipe when the job starts, as the seed's flow
// does) and "+ Upload File" (sent at once to POST /assets with a progress bar). Each is listed
// with a preview and "Remove".

import { uploadAsset } from '../api.js';
import { field, h, select } from '../dom.js';

const TYPE_NAMES = { image: 'Image', video: 'Video', audio: 'Audio' };

function fileName(url) {
  try {
    const last = new URL(url).pathname.split('/').filter(Boolean).pop();
    return last ? decodeURIComponent(last) : url;
  } catch {
    return url;
  }
}

function megabytes(size) {
  return size >= 1e6 ? `${(size / 1e6).toFixed(1)} MB` : `${Math.max(1, Math.round(size / 1e3))} kB`;
}

/** One listed asset: its preview, its name and source, an error slot, and "Remove". */
function assetRow({ name, detail, preview, onRemove }) {
  const error = h('p', { class: 'field-error', hidden: true, role: 'alert' });
  const status = h('p', { class: 'asset-detail', text: detail });
  const remove = h('button', { type: 'button', class: 'secondary small', text: 'Remove', 'aria-label': `Remove ${name}`, onclick: onRemove });
  const text = h('div', { class: 'asset-text' }, h('p', { class: 'asset-name', text: name }), status, error);
  const row = h('li', { class: 'asset' }, preview, text, remove);
  return {
    row,
    text,
    status,
    setPreview(node) {
      row.firstChild.replaceWith(node);
    },
    error(message) {
      error.textContent = message;
      error.hidden = !message;
    },
  };
}

function typeTile(type, label, fallback = 'File') {
  return h('span', { class: 'thumb tile', role: 'img', 'aria-label': label, text: TYPE_NAMES[type] || fallback });
}

export function assetsSection(scope, context) {
  const items = [];
  let submitted = [];
  const list = h('ul', { class: 'asset-list', 'aria-label': 'Assets of this ad' });
  const empty = h('p', { class: 'hint', text: 'No assets yet. Add images, clips or music by URL or from your computer.' });

  function add(item) {
    items.push(item);
    list.append(item.view.row);
    empty.hidden = true;
  }

  function remove(item) {
    item.abort?.();
    items.splice(items.indexOf(item), 1);
    item.view.row.remove();
    empty.hidden = items.length > 0;
    addUrlButton.focus();
  }

  // ---- + Add URL --------------------------------------------------------------------------
  const urlInput = h('input', { type: 'url', inputmode: 'url', autocomplete: 'off', placeholder: 'https://cdn.example.com/product.jpg' });
  const url = field('Asset URL', urlInput);
  const typeSelect = select([['', 'Detect from URL'], ['image', 'Image'], ['video', 'Video'], ['audio', 'Audio']]);
  const type = field('Type', typeSelect);
  const addButton = h('button', { type: 'button', class: 'secondary', text: 'Add' });
  const cancelUrl = h('button', { type: 'button', class: 'link', text: 'Cancel' });
  const urlPanel = h('div', { class: 'inline-creator', hidden: true, id: 'asset-url-panel' },
    h('div', { class: 'grid url-row' }, url.wrapper, type.wrapper),
    h('div', { class: 'actions' }, addButton, cancelUrl));
  const addUrlButton = h('button', { type: 'button', class: 'secondary', text: '+ Add URL', 'aria-expanded': 'false', 'aria-controls': urlPanel.id });

  const showUrlPanel = (visible) => {
    urlPanel.hidden = !visible;
    addUrlButton.setAttribute('aria-expanded', String(visible));
    (visible ? urlInput : addUrlButton).focus();
  };
  addUrlButton.addEventListener('click', () => showUrlPanel(urlPanel.hidden));
  cancelUrl.addEventListener('click', () => showUrlPanel(false));

  function addUrl() {
    url.clear();
    const value = urlInput.value.trim();
    try {
      new URL(value); // eslint-disable-line no-new
    } catch {
      url.error('Enter a full URL, like https://cdn.example.com/product.jpg');
      urlInput.focus();
      return;
    }
    const assetType = typeSelect.value || null;
    const name = fileName(value);
    const item = { ready: true, body: () => ({ url: value, ...(assetType ? { type: assetType } : {}), name }) };
    item.view = assetRow({
      name,
      detail: value,
      preview: typeTile(assetType, `${TYPE_NAMES[assetType] || 'Asset'} from a URL; previewed once downloaded`, 'URL'),
      onRemove: () => remove(item),
    });
    add(item);
    urlInput.value = '';
    typeSelect.value = '';
    urlPanel.hidden = true;
    addUrlButton.setAttribute('aria-expanded', 'false');
    addUrlButton.focus();
  }
  addButton.addEventListener('click', addUrl);
  urlInput.addEventListener('keydown', (event) => {
    if (event.key === 'Enter') {
      event.preventDefault();
      addUrl();
    }
  });

  // ---- + Upload File ----------------------------------------------------------------------
  const fileInput = h('input', { type: 'file', multiple: true, accept: 'image/*,video/*,audio/*', class: 'visually-hidden', tabindex: '-1', 'aria-hidden': 'true', name: 'file' });
  const uploadButton = h('button', { type: 'button', class: 'secondary', text: '+ Upload File', onclick: () => fileInput.click() });

  function upload(file) {
    const item = { ready: false, uploading: true };
    const bar = h('progress', { max: 100, value: 0, 'aria-label': `Uploading ${file.name}` });
    const percent = h('span', { class: 'percent', text: '0%' });
    item.view = assetRow({ name: file.name, detail: `Uploading · ${megabytes(file.size)}`, preview: typeTile(null, 'Uploading'), onRemove: () => remove(item) });
    const progress = h('div', { class: 'upload-progress' }, bar, percent);
    item.view.text.append(progress);
    add(item);
    const sending = uploadAsset(file, { clientId: context.clientId(), campaignId: context.campaignId(), name: file.name }, (fraction) => {
      const value = Math.round(fraction * 100);
      bar.value = value;
      percent.textContent = `${value}%`;
    });
    item.abort = sending.abort;
    scope.onDispose(sending.abort);
    sending.promise.then(
      (asset) => {
        item.uploading = false;
        item.ready = true;
        item.body = () => ({ id: asset.id });
        bar.value = 100;
        percent.textContent = '100%';
        progress.hidden = true;
        const size = asset.width ? ` · ${asset.width}×${asset.height}` : '';
        item.view.status.textContent = `Uploaded ${TYPE_NAMES[asset.type].toLowerCase()} · ${megabytes(asset.size)}${size}`;
        item.view.setPreview(scope.blobs.image(asset.thumbnailUrl, `Preview of ${asset.name}`));
      },
      (error) => {
        item.uploading = false;
        if (error.name === 'AbortError') return;
        progress.hidden = true;
        item.view.status.textContent = 'Not uploaded';
        item.view.error(error.errors[0]?.message || error.message);
      },
    );
  }
  fileInput.addEventListener('change', () => {
    for (const file of fileInput.files) upload(file);
    fileInput.value = '';
  });

  const element = h('fieldset', { class: 'assets' },
    h('legend', { text: 'Assets' }),
    h('div', { class: 'actions start' }, addUrlButton, uploadButton, fileInput),
    urlPanel,
    empty,
    list);

  return {
    element,
    fields: {},
    check() {
      return items.some((i) => i.uploading) ? [[null, 'Wait until every upload has finished (or remove it).']] : [];
    },
    write(body) {
      submitted = items.filter((i) => i.ready);
      body.creative.assets = submitted.map((i) => i.body());
    },
    clearErrors() {
      for (const item of items) if (item.ready) item.view.error('');
    },
    /** Shows a problem at `creative.assets[i]…` next to that asset; false for other paths. */
    showError(path, message) {
      const match = /^creative\.assets\[(\d+)\]/.exec(path);
      const item = match && submitted[Number(match[1])];
      if (!item) return false;
      item.view.error(message);
      return true;
    },
  };
}
