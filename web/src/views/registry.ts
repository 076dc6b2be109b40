// Which tabs each kind of object of the resource tree has. Later screens (VM hardware,
// console, snapshots, storage content, ...) add entries here.

import type { ComponentType } from 'react';
import type { ObjectType, ViewContext } from './context';
import { DcSummary } from './DcSummary';
import { NodeSummary } from './NodeSummary';
import { NodeTasks } from './NodeTasks';
import { ResourceSummary } from './ResourceSummary';
import { AccessAcl } from './AccessAcl';
import { AccessUsers } from './AccessUsers';
import { AccessGroups } from './AccessGroups';
import { AccessRoles } from './AccessRoles';
import { AccessTokens } from './AccessTokens';
import { VmHardware } from './qemu/VmHardware';
import { VmOptions } from './qemu/VmOptions';
import { VmTools } from './qemu/VmTools';
import { StorageContent } from './storage/StorageContent';
import { ConsoleTab } from '../console/ConsolePage';

const VncTab = ({ ctx }: { ctx: ViewContext }) => ConsoleTab({ ctx, kind: 'vnc' });
const SerialTab = ({ ctx }: { ctx: ViewContext }) => ConsoleTab({ ctx, kind: 'serial' });

export interface Tab {
  id: string;
  title: string;
  view: ComponentType<{ ctx: ViewContext }>;
  /** Shown indented under this tab. */
  parent?: string;
}

const TABS: Record<ObjectType, Tab[]> = {
  datacenter: [
    { id: 'summary', title: 'Summary', view: DcSummary },
    { id: 'acl', title: 'Permissions', view: AccessAcl },
    { id: 'users', title: 'Users', view: AccessUsers, parent: 'acl' },
    { id: 'tokens', title: 'API Tokens', view: AccessTokens, parent: 'acl' },
    { id: 'groups', title: 'Groups', view: AccessGroups, parent: 'acl' },
    { id: 'roles', title: 'Roles', view: AccessRoles, parent: 'acl' },
  ],
  node: [
    { id: 'summary', title: 'Summary', view: NodeSummary },
    { id: 'tasks', title: 'Task History', view: NodeTasks },
  ],
  qemu: [
    { id: 'summary', title: 'Summary', view: ResourceSummary },
    { id: 'console', title: 'Console', view: VncTab },
    { id: 'serial', title: 'Serial Console', view: SerialTab },
    { id: 'hardware', title: 'Hardware', view: VmHardware },
    { id: 'options', title: 'Options', view: VmOptions },
    { id: 'tasks', title: 'Task History', view: NodeTasks },
  ],
  lxc: [
    { id: 'summary', title: 'Summary', view: ResourceSummary },
  ],
  storage: [
    { id: 'summary', title: 'Summary', view: ResourceSummary },
    { id: 'content', title: 'Content', view: StorageContent },
  ],
};

/** Controls in the header of an object's panel (on every tab). */
export const HEADER_TOOLS: Partial<Record<ObjectType, ComponentType<{ ctx: ViewContext }>>> = {
  qemu: VmTools,
};

export function tabsFor(type: ObjectType): Tab[] {
  return TABS[type] || [];
}
