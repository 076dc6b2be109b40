// The content panel: the selected object's title, its tabs (vertical, as Proxmox shows them)
// and the mounted view of the selected tab.

import { h, replace } from '../dom.js';
import { icon } from '../icons.js';
import { Scope } from '../poll.js';
import { resources } from '../resources.js';
import { navigate } from '../router.js';
import { objectTitle, parseObjectId, tabsFor } from '../views/registry.js';

export function createContent({ services }) {
  const title = h('h1', { class: 'content-title' });
  const titleIcon = h('span', { class: 'content-icon' });
  const tabList = h('div', { class: 'content-tabs', role: 'tablist', 'aria-orientation': 'vertical', 'aria-label': 'Views' });
  const panel = h('div', { class: 'content-view', role: 'tabpanel', tabIndex: -1 });
  const el = h('main', { class: 'content' },
    h('header', { class: 'content-header' }, titleIcon, title),
    h('div', { class: 'content-body' }, tabList, panel));

  let shown = { id: null, tab: null };
  let scope = null;
  let tabButtons = [];

  function updateTitle(id) {
    const parsed = parseObjectId(id);
    if (!parsed) return;
    const text = objectTitle(parsed.type, resources.get(id), parsed);
    if (title.textContent !== text) title.textContent = text;
  }
  const unsubscribe = resources.subscribe(() => shown.id && updateTitle(shown.id));

  function show({ id, tab }) {
    const parsed = parseObjectId(id);
    if (!parsed) {
      navigate('datacenter', '', { replace: true });
      return;
    }
    const tabs = tabsFor(parsed.type);
    const active = tabs.find((t) => t.id === tab) || tabs[0];
    if (shown.id === id && shown.tab === active.id) return;

    if (shown.id !== id) {
      replace(titleIcon, icon(parsed.type));
      tabButtons = tabs.map((t) => {
        const btn = h('button', {
          type: 'button', role: 'tab', class: ['content-tab', t.parent && 'sub'], dataset: { tab: t.id },
          onclick: () => navigate(id, t.id),
        }, t.title);
        return btn;
      });
      replace(tabList, tabButtons);
    }
    for (const btn of tabButtons) {
      const on = btn.dataset.tab === active.id;
      btn.setAttribute('aria-selected', on ? 'true' : 'false');
      btn.tabIndex = on ? 0 : -1;
    }
    shown = { id, tab: active.id };
    updateTitle(id);

    scope?.dispose();
    scope = new Scope();
    panel.replaceChildren();
    panel.dataset.view = `${parsed.type}:${active.id}`;
    const ctx = {
      ...services,
      id,
      ...parsed,
      scope,
      resource: () => (parsed.type === 'datacenter' ? { id, type: 'datacenter' } : resources.get(id)),
    };
    try {
      active.view.mount(panel, ctx);
    } catch (err) {
      console.error(err);
      replace(panel, h('div', { class: 'view-error', role: 'alert' }, `This view failed: ${err.message}`));
    }
  }

  tabList.addEventListener('keydown', (ev) => {
    const at = tabButtons.indexOf(document.activeElement);
    if (at < 0) return;
    let next = null;
    if (ev.key === 'ArrowDown') next = tabButtons[(at + 1) % tabButtons.length];
    else if (ev.key === 'ArrowUp') next = tabButtons[(at - 1 + tabButtons.length) % tabButtons.length];
    if (next) {
      ev.preventDefault();
      next.focus();
      next.click();
    }
  });

  return {
    el,
    show,
    destroy() {
      scope?.dispose();
      unsubscribe();
    },
  };
}
