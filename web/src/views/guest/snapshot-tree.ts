// The snapshot list of GET .../snapshot as the tree the Snapshots tab shows.

export interface Snapshot {
  name: string;
  description?: string;
  parent?: string;
  snaptime?: number;
  vmstate?: number;
  running?: number;
}

export interface SnapshotRow extends Snapshot {
  depth: number;
}

/** Depth-first order of the snapshot tree, each row with its depth. */
export function snapshotTree(list: Snapshot[]): SnapshotRow[] {
  const names = new Set(list.map((s) => s.name));
  const children = new Map<string, Snapshot[]>();
  for (const s of list) {
    const parent = s.parent && names.has(s.parent) ? s.parent : '';
    children.set(parent, [...(children.get(parent) ?? []), s]);
  }
  const out: SnapshotRow[] = [];
  const walk = (parent: string, depth: number): void => {
    const kids = (children.get(parent) ?? []).sort((a, b) => (a.name === 'current' ? 1 : b.name === 'current' ? -1 : (a.snaptime ?? 0) - (b.snaptime ?? 0)));
    for (const s of kids) {
      out.push({ ...s, depth });
      if (s.name !== 'current') walk(s.name, depth + 1);
    }
  };
  walk('', 0);
  return out;
}
