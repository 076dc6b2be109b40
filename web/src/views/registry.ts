// Which tabs each kind of object of the resource tree has.

import type { ComponentType } from 'react';
import type { ObjectType, ViewContext } from './context';
import { DcSummary } from './DcSummary';
import { NodeSummary } from './NodeSummary';
import { NodeTasks } from './NodeTasks';
import { ResourceSummary } from './ResourceSummary';
import { DatacenterPermissions, ObjectPermissions } from './AccessAcl';
import { AccessUsers } from './AccessUsers';
import { AccessGroups } from './AccessGroups';
import { AccessRoles } from './AccessRoles';
import { AccessTokens } from './AccessTokens';
import { Pools } from './Pools';
import { VmHardware } from './qemu/VmHardware';
import { VmOptions } from './qemu/VmOptions';
import { VmTools } from './qemu/VmTools';
import { StorageContent } from './storage/StorageContent';
import { GuestBackups } from './guest/Backups';
import { GuestSnapshots } from './guest/Snapshots';
import { CtDns, CtNetwork, CtOptions, CtResources } from './lxc/CtConfig';
import { NodeNetwork } from './node/NodeNetwork';
import { FirewallOptions, FirewallRules } from './firewall/Firewall';
import { ConsoleTab } from '../console/ConsolePage';
import { DcBackupJobs } from './dc/DcBackupJobs';

const VncTab = ({ ctx }: { ctx: ViewContext }) => ConsoleTab({ ctx, kind: 'vnc' });
const SerialTab = ({ ctx }: { ctx: ViewContext }) => ConsoleTab({ ctx, kind: 'serial' });

export interface Tab {
  id: string;
  title: string;
  view: ComponentType<{ ctx: ViewContext }>;
  /** Shown indented under this tab. */
  parent?: string;
}

const CtConsoleTab = ({ ctx }: { ctx: ViewContext }) => ConsoleTab({ ctx, kind: 'lxc' });

const FIREWALL: Tab[] = [
  { id: 'firewall', title: 'Firewall', view: FirewallRules },
  { id: 'firewall-options', title: 'Firewall Options', view: FirewallOptions, parent: 'firewall' },
];

const TABS: Record<ObjectType, Tab[]> = {
  datacenter: [
    { id: 'summary', title: 'Summary', view: DcSummary },
    { id: 'backup', title: 'Backup', view: DcBackupJobs },
    { id: 'acl', title: 'Permissions', view: DatacenterPermissions },
    { id: 'users', title: 'Users', view: AccessUsers, parent: 'acl' },
    { id: 'tokens', title: 'API Tokens', view: AccessTokens, parent: 'acl' },
    { id: 'groups', title: 'Groups', view: AccessGroups, parent: 'acl' },
    { id: 'roles', title: 'Roles', view: AccessRoles, parent: 'acl' },
    { id: 'pools', title: 'Pools', view: Pools, parent: 'acl' },
    ...FIREWALL,
  ],
  node: [
    { id: 'summary', title: 'Summary', view: NodeSummary },
    { id: 'network', title: 'Network', view: NodeNetwork },
    { id: 'tasks', title: 'Task History', view: NodeTasks },
    ...FIREWALL,
    { id: 'permissions', title: 'Permissions', view: ObjectPermissions },
  ],
  qemu: [
    { id: 'summary', title: 'Summary', view: ResourceSummary },
    { id: 'console', title: 'Console', view: VncTab },
    { id: 'serial', title: 'Serial Console', view: SerialTab },
    { id: 'hardware', title: 'Hardware', view: VmHardware },
    { id: 'options', title: 'Options', view: VmOptions },
    { id: 'tasks', title: 'Task History', view: NodeTasks },
    { id: 'backup', title: 'Backup', view: GuestBackups },
    { id: 'snapshots', title: 'Snapshots', view: GuestSnapshots },
    ...FIREWALL,
    { id: 'permissions', title: 'Permissions', view: ObjectPermissions },
  ],
  lxc: [
    { id: 'summary', title: 'Summary', view: ResourceSummary },
    { id: 'console', title: 'Console', view: CtConsoleTab },
    { id: 'resources', title: 'Resources', view: CtResources },
    { id: 'network', title: 'Network', view: CtNetwork },
    { id: 'dns', title: 'DNS', view: CtDns },
    { id: 'options', title: 'Options', view: CtOptions },
    { id: 'tasks', title: 'Task History', view: NodeTasks },
    { id: 'backup', title: 'Backup', view: GuestBackups },
    { id: 'snapshots', title: 'Snapshots', view: GuestSnapshots },
    ...FIREWALL,
    { id: 'permissions', title: 'Permissions', view: ObjectPermissions },
  ],
  storage: [
    { id: 'summary', title: 'Summary', view: ResourceSummary },
    { id: 'content', title: 'Content', view: StorageContent },
    { id: 'permissions', title: 'Permissions', view: ObjectPermissions },
  ],
};

/** Controls in the header of an object's panel (on every tab). */
export const HEADER_TOOLS: Partial<Record<ObjectType, ComponentType<{ ctx: ViewContext }>>> = {
  qemu: VmTools,
  lxc: VmTools,
};

export function tabsFor(type: ObjectType): Tab[] {
  return TABS[type] || [];
}
