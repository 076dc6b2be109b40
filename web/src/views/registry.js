// Which tabs each kind of object of the resource tree has. A tab names the module that renders
// it: a module exports `mount(container, ctx)` and registers its timers and listeners on
// `ctx.scope`, which is disposed when the user leaves the tab. Later screens (VM hardware,
// console, snapshots, storage content, ...) add entries here.

import * as dcSummary from './dc-summary.js';
import * as nodeSummary from './node-summary.js';
import * as nodeTasks from './node-tasks.js';
import * as resourceSummary from './resource-summary.js';
import * as acl from './access-acl.js';
import * as users from './access-users.js';
import * as groups from './access-groups.js';
import * as roles from './access-roles.js';
import * as tokens from './access-tokens.js';

const TABS = {
  datacenter: [
    { id: 'summary', title: 'Summary', view: dcSummary },
    { id: 'acl', title: 'Permissions', view: acl },
    { id: 'users', title: 'Users', view: users, parent: 'acl' },
    { id: 'tokens', title: 'API Tokens', view: tokens, parent: 'acl' },
    { id: 'groups', title: 'Groups', view: groups, parent: 'acl' },
    { id: 'roles', title: 'Roles', view: roles, parent: 'acl' },
  ],
  node: [
    { id: 'summary', title: 'Summary', view: nodeSummary },
    { id: 'tasks', title: 'Task History', view: nodeTasks },
  ],
  qemu: [
    { id: 'summary', title: 'Summary', view: resourceSummary },
  ],
  lxc: [
    { id: 'summary', title: 'Summary', view: resourceSummary },
  ],
  storage: [
    { id: 'summary', title: 'Summary', view: resourceSummary },
  ],
};

/** The kind and keys of an object id: datacenter, node/N, qemu/ID, lxc/ID, storage/N/S. */
export function parseObjectId(id) {
  if (!id || id === 'datacenter') return { type: 'datacenter' };
  const [type, ...rest] = id.split('/');
  switch (type) {
    case 'node':
      return rest.length === 1 && rest[0] ? { type, node: rest[0] } : null;
    case 'qemu':
    case 'lxc':
      return rest.length === 1 && /^\d+$/.test(rest[0]) ? { type, vmid: Number(rest[0]) } : null;
    case 'storage':
      return rest.length === 2 ? { type, node: rest[0], storage: rest[1] } : null;
    default:
      return null;
  }
}

export function tabsFor(type) {
  return TABS[type] || [];
}

export function objectTitle(type, res, parsed) {
  switch (type) {
    case 'datacenter':
      return 'Datacenter';
    case 'node':
      return `Node '${parsed.node}'`;
    case 'qemu':
      return `Virtual Machine ${parsed.vmid}${res?.name ? ` (${res.name})` : ''}${res?.node ? ` on node '${res.node}'` : ''}`;
    case 'lxc':
      return `Container ${parsed.vmid}${res?.name ? ` (${res.name})` : ''}${res?.node ? ` on node '${res.node}'` : ''}`;
    case 'storage':
      return `Storage '${parsed.storage}' on node '${parsed.node}'`;
    default:
      return '';
  }
}
