// The form's "Client" and "Campaign" dropdowns: the user's own clients, and the campaigns of the
// chosen client. A new user has none yet, so each can be added right here.

import { api } from '../api.js';
import { field, h, setOptions } from '../dom.js';

/**
 * A disclosure ("+ New client") revealing a name field and an add button. `create(name)` makes
 * the thing; its problem+json errors show at the name field.
 */
function inlineCreator({ open, label, add, create }) {
  const input = h('input', { type: 'text', maxlength: 200, autocomplete: 'off' });
  const name = field(label, input);
  const addButton = h('button', { type: 'button', class: 'secondary', text: add });
  const cancel = h('button', { type: 'button', class: 'link', text: 'Cancel' });
  const panel = h('div', { class: 'inline-creator', hidden: true }, name.wrapper, h('div', { class: 'actions' }, addButton, cancel));
  const toggle = h('button', { type: 'button', class: 'link', 'aria-expanded': 'false', text: open });
  panel.id = `${input.id}-panel`;
  toggle.setAttribute('aria-controls', panel.id);

  const show = (visible) => {
    panel.hidden = !visible;
    toggle.setAttribute('aria-expanded', String(visible));
    if (visible) input.focus();
    else toggle.focus();
  };
  toggle.addEventListener('click', () => show(panel.hidden));
  cancel.addEventListener('click', () => show(false));

  async function submit() {
    name.clear();
    const value = input.value.trim();
    if (!value) {
      name.error('Enter a name.');
      input.focus();
      return;
    }
    addButton.disabled = true;
    try {
      await create(value);
      input.value = '';
      panel.hidden = true;
      toggle.setAttribute('aria-expanded', 'false');
    } catch (error) {
      name.error(error.errors[0]?.message || error.message);
      input.focus();
    } finally {
      addButton.disabled = false;
    }
  }
  addButton.addEventListener('click', submit);
  // Enter here adds the client; it must not submit the whole ad form around it.
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter') {
      event.preventDefault();
      submit();
    }
  });
  return h('div', { class: 'creator' }, toggle, panel);
}

export function contextSection(scope) {
  const clientSelect = h('select', { name: 'clientId' });
  const campaignSelect = h('select', { name: 'campaignId' });
  const client = field('Client', clientSelect);
  const campaign = field('Campaign', campaignSelect);
  let campaignRequest = 0;

  async function loadCampaigns(chosen) {
    const request = ++campaignRequest;
    const clientId = clientSelect.value;
    const items = clientId ? (await api.campaigns(clientId, scope.signal)).items : [];
    if (request !== campaignRequest) return; // the client changed again meanwhile
    setOptions(campaignSelect, [['', 'No campaign'], ...items.map((c) => [c.id, c.name])], chosen ?? '');
  }

  async function loadClients(chosen) {
    const { items } = await api.clients(scope.signal);
    if (items.length) {
      setOptions(clientSelect, items.map((c) => [c.id, c.name]), chosen ?? items[0].id);
    } else {
      setOptions(clientSelect, [['', 'No clients yet: add one below']]);
    }
    await loadCampaigns();
  }

  clientSelect.addEventListener('change', () => loadCampaigns().catch(scope.fail));

  const element = h('div', { class: 'grid two' },
    h('div', {}, client.wrapper, inlineCreator({
      open: '+ New client',
      label: 'New client name',
      add: 'Add client',
      create: async (name) => {
        const made = await api.createClient(name);
        await loadClients(made.id);
        clientSelect.focus();
      },
    })),
    h('div', {}, campaign.wrapper, inlineCreator({
      open: '+ New campaign',
      label: 'New campaign name',
      add: 'Add campaign',
      create: async (name) => {
        if (!clientSelect.value) throw Object.assign(new Error('Choose or add a client first.'), { errors: [] });
        const made = await api.createCampaign(clientSelect.value, name);
        await loadCampaigns(made.id);
        campaignSelect.focus();
      },
    })),
  );

  return {
    element,
    ready: loadClients(),
    fields: { 'context.clientId': client, 'context.campaignId': campaign },
    clientId: () => clientSelect.value,
    campaignId: () => campaignSelect.value,
    check() {
      if (clientSelect.value) return [];
      return [[client, 'Choose a client, or add one with "+ New client".']];
    },
    write(body) {
      body.context = { clientId: clientSelect.value };
      if (campaignSelect.value) body.context.campaignId = campaignSelect.value;
    },
  };
}
