// The resource tree: Datacenter -> nodes -> guests (qemu, lxc) and storages, from
// /cluster/resources; with a type filter, a search box (name, VMID, tag) and status icons.

import { h, replace } from '../dom.js';
import { icon, resourceStatus } from '../icons.js';

export const TYPE_FILTERS = [
  { value: '', label: 'All types' },
  { value: 'node', label: 'Nodes' },
  { value: 'qemu', label: 'Virtual machines' },
  { value: 'lxc', label: 'Containers' },
  { value: 'storage', label: 'Storage' },
];

const CHILD_ORDER = { qemu: 0, lxc: 0, storage: 1 };

export function resourceLabel(res) {
  switch (res.type) {
    case 'datacenter':
      return 'Datacenter';
    case 'node':
      return res.node;
    case 'qemu':
    case 'lxc':
      return res.name ? `${res.vmid} (${res.name})` : String(res.vmid);
    case 'storage':
      return `${res.storage} (${res.node})`;
    default:
      return res.id;
  }
}

export function resourceTags(res) {
  return String(res.tags || '').split(/[;,\s]+/).filter(Boolean);
}

/** Whether a guest or storage entry matches the search text (lower case). */
export function matchesSearch(res, q) {
  if (!q) return true;
  switch (res.type) {
    case 'qemu':
    case 'lxc':
      return String(res.vmid).includes(q) || String(res.name || '').toLowerCase().includes(q) ||
        resourceTags(res).some((t) => t.toLowerCase().includes(q));
    case 'storage':
      return String(res.storage || '').toLowerCase().includes(q);
    case 'node':
      return String(res.node || '').toLowerCase().includes(q);
    default:
      return false;
  }
}

function guestSort(a, b) {
  const oa = CHILD_ORDER[a.type] ?? 2;
  const ob = CHILD_ORDER[b.type] ?? 2;
  if (oa !== ob) return oa - ob;
  if (a.vmid !== undefined && b.vmid !== undefined) return a.vmid - b.vmid;
  return String(a.storage || a.id).localeCompare(String(b.storage || b.id));
}

/**
 * createTree({ onSelect(id) }) -> { el, update(resources, error), select(id), focus() }
 */
export function createTree({ onSelect }) {
  const items = new Map(); // id -> { li, row, labelEl, iconSlot, tagsEl, group, res }
  const collapsed = new Set();
  let selectedId = null;
  let filterType = '';
  let query = '';

  const typeSelect = h('select', { class: 'tree-type', 'aria-label': 'Filter by type', onchange: () => { filterType = typeSelect.value; applyFilter(); } },
    TYPE_FILTERS.map((t) => h('option', { value: t.value }, t.label)));
  const search = h('input', {
    type: 'search', class: 'tree-search', placeholder: 'Search: name, VMID, tag', 'aria-label': 'Search resources',
    spellcheck: 'false', autocomplete: 'off',
    oninput: () => { query = search.value.trim().toLowerCase(); applyFilter(); },
  });
  const rootList = h('ul', { role: 'tree', class: 'tree', 'aria-label': 'Resources' });
  const message = h('div', { class: 'tree-message', hidden: true });
  const el = h('nav', { class: 'tree-panel', 'aria-label': 'Resource tree' },
    h('div', { class: 'tree-tools' }, typeSelect, search),
    h('div', { class: 'tree-scroll' }, rootList, message));

  function makeItem(id, level) {
    const toggle = h('span', { class: 'tree-toggle', 'aria-hidden': 'true' });
    const iconSlot = h('span', { class: 'tree-icon' });
    const labelEl = h('span', { class: 'tree-label' });
    const tagsEl = h('span', { class: 'tree-tags' });
    const row = h('div', { class: 'tree-row', style: { paddingLeft: `${4 + level * 16}px` } }, toggle, iconSlot, labelEl, tagsEl);
    const group = h('ul', { role: 'group' });
    const li = h('li', { role: 'treeitem', tabIndex: -1, 'aria-level': level + 1, 'aria-selected': 'false', dataset: { id } }, row, group);
    toggle.addEventListener('click', (ev) => {
      ev.stopPropagation();
      setCollapsed(id, !collapsed.has(id));
    });
    row.addEventListener('click', () => {
      focusItem(id);
      onSelect(id);
    });
    const item = { li, row, labelEl, iconSlot, tagsEl, group, res: null, statusKey: null, level, childLis: [] };
    items.set(id, item);
    return item;
  }

  function setCollapsed(id, value) {
    if (value) collapsed.add(id);
    else collapsed.delete(id);
    const item = items.get(id);
    if (item) applyExpansion(item, item.group.children.length);
  }

  function applyExpansion(item, visibleChildren) {
    if (!item) return;
    const id = item.li.dataset.id;
    const hasChildren = visibleChildren > 0;
    const open = !collapsed.has(id) || Boolean(query && hasChildren);
    item.group.hidden = !open;
    if (hasChildren) item.li.setAttribute('aria-expanded', open ? 'true' : 'false');
    else item.li.removeAttribute('aria-expanded');
    item.li.classList.toggle('has-children', hasChildren);
  }

  function setContent(item, res) {
    const status = resourceStatus(res);
    const kind = res.type === 'qemu' || res.type === 'lxc' ? (res.template ? `${res.type}-template` : res.type) : res.type;
    const key = `${kind}/${status}`;
    if (item.statusKey !== key) {
      replace(item.iconSlot, icon(res.type, status));
      item.statusKey = key;
      item.li.dataset.status = res.status || '';
    }
    const label = resourceLabel(res);
    if (item.labelEl.textContent !== label) {
      item.labelEl.textContent = label;
      item.li.setAttribute('aria-label', label); // not the text of all its children
    }
    const tags = resourceTags(res).join(' ');
    if (item.tagsEl.dataset.tags !== tags) {
      item.tagsEl.dataset.tags = tags;
      replace(item.tagsEl, resourceTags(res).map((t) => h('span', { class: 'tag' }, t)));
    }
    item.li.title = res.status ? `${label}: ${res.status}` : label;
    item.res = res;
  }

  const root = makeItem('datacenter', 0);
  setContent(root, { id: 'datacenter', type: 'datacenter' });
  rootList.append(root.li);

  function update(list, error) {
    const nodes = list.filter((r) => r.type === 'node').sort((a, b) => a.node.localeCompare(b.node));
    const byNode = new Map(nodes.map((n) => [n.node, []]));
    for (const r of list) {
      if (!['qemu', 'lxc', 'storage'].includes(r.type) || !r.node) continue;
      if (!byNode.has(r.node)) {
        // A guest on a node we have no entry for (yet): show the node as unknown.
        const placeholder = { id: `node/${r.node}`, type: 'node', node: r.node, status: 'unknown' };
        nodes.push(placeholder);
        byNode.set(r.node, []);
      }
      byNode.get(r.node).push(r);
    }
    const seen = new Set(['datacenter']);
    const nodeLis = [];
    for (const node of nodes) {
      seen.add(node.id);
      const item = items.get(node.id) || makeItem(node.id, 1);
      setContent(item, node);
      nodeLis.push(item.li);
      const childLis = [];
      for (const child of byNode.get(node.node).sort(guestSort)) {
        seen.add(child.id);
        const ci = items.get(child.id) || makeItem(child.id, 2);
        setContent(ci, child);
        childLis.push(ci.li);
      }
      item.childLis = childLis;
    }
    root.childLis = nodeLis;
    for (const [id, item] of items) {
      if (!seen.has(id)) {
        item.li.remove();
        items.delete(id);
      }
    }
    if (error) {
      message.textContent = `Cannot load resources: ${error.message}`;
      message.classList.add('error');
      message.hidden = false;
    } else {
      message.classList.remove('error');
      message.hidden = true;
    }
    applyFilter();
    markSelected();
  }

  function syncChildren(parent, lis) {
    const current = [...parent.children];
    if (current.length === lis.length && current.every((c, i) => c === lis[i])) return;
    parent.replaceChildren(...lis);
  }

  function visibleSelf(res) {
    if (res.type === 'node') return !filterType || filterType === 'node';
    return !filterType || filterType === res.type;
  }

  // Filtered-out items leave the DOM (hiding 1,000s of rows with display:none costs far more).
  function applyFilter() {
    let shown = 0;
    const visibleNodes = [];
    for (const nodeLi of root.childLis) {
      const nodeItem = items.get(nodeLi.dataset.id);
      const nodeRes = nodeItem.res;
      const nodeMatches = matchesSearch(nodeRes, query);
      const visible = nodeItem.childLis.filter((childLi) => {
        const res = items.get(childLi.dataset.id).res;
        return visibleSelf(res) && (nodeMatches || matchesSearch(res, query));
      });
      syncChildren(nodeItem.group, visible);
      applyExpansion(nodeItem, visible.length);
      if (visible.length > 0 || (visibleSelf(nodeRes) && nodeMatches)) {
        visibleNodes.push(nodeLi);
        shown += 1 + visible.length;
      }
    }
    syncChildren(root.group, visibleNodes);
    applyExpansion(root, visibleNodes.length);
    if (!shown && (query || filterType) && !message.classList.contains('error')) {
      message.textContent = 'No resource matches the filter.';
      message.hidden = false;
    } else if (!message.classList.contains('error')) {
      message.hidden = true;
    }
  }

  function markSelected() {
    for (const [id, item] of items) {
      const on = id === selectedId;
      item.li.setAttribute('aria-selected', on ? 'true' : 'false');
      item.row.classList.toggle('selected', on);
    }
    // Exactly one item is reachable with Tab.
    const focusable = items.get(selectedId) || root;
    for (const item of items.values()) item.li.tabIndex = item === focusable ? 0 : -1;
  }

  function visibleItems() {
    return [...rootList.querySelectorAll('li[role="treeitem"]')].filter((li) => li.offsetParent !== null);
  }

  function focusItem(id) {
    const item = items.get(id);
    if (!item) return;
    for (const other of items.values()) other.li.tabIndex = -1;
    item.li.tabIndex = 0;
    item.li.focus({ preventScroll: false });
  }

  rootList.addEventListener('keydown', (ev) => {
    const li = ev.target.closest('li[role="treeitem"]');
    if (!li) return;
    const id = li.dataset.id;
    const list = visibleItems();
    const at = list.indexOf(li);
    const item = items.get(id);
    switch (ev.key) {
      case 'ArrowDown':
        if (list[at + 1]) focusItem(list[at + 1].dataset.id);
        break;
      case 'ArrowUp':
        if (at > 0) focusItem(list[at - 1].dataset.id);
        break;
      case 'ArrowRight':
        if (li.getAttribute('aria-expanded') === 'false') setCollapsed(id, false);
        else if (li.getAttribute('aria-expanded') === 'true' && list[at + 1]) focusItem(list[at + 1].dataset.id);
        break;
      case 'ArrowLeft':
        if (li.getAttribute('aria-expanded') === 'true') setCollapsed(id, true);
        else if (item.level > 0) focusItem(li.parentElement.closest('li').dataset.id);
        break;
      case 'Home':
        focusItem(list[0].dataset.id);
        break;
      case 'End':
        focusItem(list[list.length - 1].dataset.id);
        break;
      case 'Enter':
      case ' ':
        onSelect(id);
        break;
      default:
        return;
    }
    ev.preventDefault();
  });

  applyFilter();
  markSelected();

  return {
    el,
    update,
    select(id) {
      selectedId = id;
      // Show the selected item: open its parents.
      const item = items.get(id);
      if (item?.li.isConnected) {
        let parent = item.li.parentElement.closest('li[role="treeitem"]');
        while (parent) {
          setCollapsed(parent.dataset.id, false);
          parent = parent.parentElement.closest('li[role="treeitem"]');
        }
        item.row.scrollIntoView({ block: 'nearest' });
      }
      markSelected();
    },
    has: (id) => items.has(id),
    resource: (id) => items.get(id)?.res || null,
    focus() {
      (items.get(selectedId) || root).li.focus();
    },
    /** For tests/benchmarks: the current filter. */
    setFilter(type, text) {
      filterType = type || '';
      typeSelect.value = filterType;
      search.value = text || '';
      query = search.value.trim().toLowerCase();
      applyFilter();
    },
  };
}
