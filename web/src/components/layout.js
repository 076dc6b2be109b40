// The main screen: header, resource tree on the left, content panel, task bar at the bottom.

import { api } from '../api.js';
import { h } from '../dom.js';
import { Scope } from '../poll.js';
import { resources } from '../resources.js';
import { currentRoute, navigate, onRoute } from '../router.js';
import * as session from '../session.js';
import { createContent } from './content.js';
import { createTaskBar } from './taskbar.js';
import { openTaskLog } from './tasklog.js';
import { createTree } from './tree.js';
import { parseObjectId } from '../views/registry.js';

export function createLayout({ onLogout }) {
  const scope = new Scope();
  const version = h('span', { class: 'version' });
  const userButton = h('span', { class: 'current-user', title: 'Logged in user' }, session.username());
  const logout = h('button', { type: 'button', class: 'btn logout', onclick: onLogout }, 'Logout');
  const header = h('header', { class: 'topbar' },
    h('a', { class: 'brand', href: '#datacenter' }, h('span', { class: 'logo', 'aria-hidden': 'true' }), h('span', { class: 'brand-name' }, 'oxve')),
    version,
    h('span', { class: 'spacer' }),
    userButton,
    logout);

  const taskbar = createTaskBar(scope);
  // What every view gets besides its object: open a task's window, refresh the task bar.
  const services = {
    openTaskLog,
    /** After starting a task: show it in the task bar at once, and its log window. */
    taskStarted(upid, { show = true } = {}) {
      taskbar.refresh();
      if (show && upid) openTaskLog(upid);
    },
    refreshResources: () => resources.refresh(),
  };
  // Selecting another object of the same kind keeps the tab (node A's tasks -> node B's tasks).
  const tree = createTree({
    onSelect: (id) => {
      const cur = currentRoute();
      const same = parseObjectId(cur.id)?.type === parseObjectId(id)?.type;
      navigate(id, same ? cur.tab : '');
    },
  });
  const content = createContent({ services });

  const el = h('div', { class: 'layout' },
    header,
    h('div', { class: 'workspace' }, tree.el, content.el),
    taskbar.el);

  resources.start();
  scope.add(() => resources.stop());
  scope.add(resources.subscribe((list, error) => tree.update(list, error)));

  const route = (r) => {
    tree.select(r.id);
    content.show(r);
  };
  scope.add(onRoute(route));
  scope.add(() => content.destroy());
  route(currentRoute());

  api.get('/version').then((v) => {
    version.textContent = `Virtual Environment ${v.version} (oxve ${v.oxve || v.repoid || ''})`.trim();
  }).catch(() => {});

  return {
    el,
    setUser(name) {
      userButton.textContent = name;
    },
    destroy() {
      scope.dispose();
      el.remove();
    },
  };
}
