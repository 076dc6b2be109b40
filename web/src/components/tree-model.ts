// What the resource tree shows: labels, search matching and the node -> children grouping of
// /cluster/resources, kept apart from rendering.

import type { Resource } from '../lib/resources';

export const TYPE_FILTERS = [
  { value: '', label: 'All types' },
  { value: 'node', label: 'Nodes' },
  { value: 'qemu', label: 'Virtual machines' },
  { value: 'lxc', label: 'Containers' },
  { value: 'storage', label: 'Storage' },
];

const CHILD_ORDER: Record<string, number> = { qemu: 0, lxc: 0, storage: 1 };

export function resourceLabel(res: Resource): string {
  switch (res.type) {
    case 'datacenter':
      return 'Datacenter';
    case 'node':
      return String(res.node);
    case 'qemu':
    case 'lxc':
      return res.name ? `${res.vmid} (${res.name})` : String(res.vmid);
    case 'storage':
      return `${res.storage} (${res.node})`;
    default:
      return res.id;
  }
}

export function resourceTags(res: Resource): string[] {
  return String(res.tags || '').split(/[;,\s]+/).filter(Boolean);
}

/** Whether an entry matches the search text (lower case): name, VMID or tag. */
export function matchesSearch(res: Resource, q: string): boolean {
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

function childSort(a: Resource, b: Resource): number {
  const oa = CHILD_ORDER[a.type] ?? 2;
  const ob = CHILD_ORDER[b.type] ?? 2;
  if (oa !== ob) return oa - ob;
  if (a.vmid !== undefined && b.vmid !== undefined) return a.vmid - b.vmid;
  return String(a.storage || a.id).localeCompare(String(b.storage || b.id));
}

export interface NodeGroup {
  node: Resource;
  children: Resource[];
}

/** Nodes (sorted) with their guests and storages; guests of unknown nodes get a placeholder. */
export function groupByNode(list: Resource[]): NodeGroup[] {
  const nodes = list.filter((r) => r.type === 'node').sort((a, b) => String(a.node).localeCompare(String(b.node)));
  const byNode = new Map<string, Resource[]>(nodes.map((n) => [String(n.node), []]));
  for (const r of list) {
    if (!['qemu', 'lxc', 'storage'].includes(r.type) || !r.node) continue;
    if (!byNode.has(r.node)) {
      nodes.push({ id: `node/${r.node}`, type: 'node', node: r.node, status: 'unknown' });
      byNode.set(r.node, []);
    }
    byNode.get(r.node)?.push(r);
  }
  return nodes.map((node) => ({ node, children: (byNode.get(String(node.node)) ?? []).sort(childSort) }));
}

/** The groups after the type filter and the search: filtered-out entries are left out. */
export function filterGroups(groups: NodeGroup[], type: string, query: string): NodeGroup[] {
  const out: NodeGroup[] = [];
  const visibleSelf = (r: Resource): boolean => !type || type === r.type;
  for (const g of groups) {
    const nodeMatches = matchesSearch(g.node, query);
    const children = g.children.filter((c) => visibleSelf(c) && (nodeMatches || matchesSearch(c, query)));
    if (children.length > 0 || (visibleSelf(g.node) && nodeMatches)) out.push({ node: g.node, children });
  }
  return out;
}
