// Storage look-ups of the VM dialogs: storages for disks, ISO images for CD drives.

import { api, apiPath } from '../../lib/api';
import type { Option } from '../../components/form-model';

interface NodeStorage {
  storage: string;
  content?: string;
  active?: number;
  enabled?: number;
  avail?: number;
  type?: string;
}

/** Storages of `node` holding `content` (images, iso, ...). */
export async function storagesFor(node: string, content: string): Promise<Option[]> {
  const list = await api.get<NodeStorage[]>(apiPath('nodes', node, 'storage'), { content });
  return list.filter((s) => s.active !== 0 && s.enabled !== 0)
    .map((s) => ({ value: s.storage, label: `${s.storage}${s.type ? ` (${s.type})` : ''}` }));
}

/** Every volume of `content` (iso, vztmpl) on the node's storages, as volume ids. */
export async function volumesOf(node: string, content: string): Promise<Option[]> {
  const storages = await storagesFor(node, content);
  const lists = await Promise.all(storages.map((s) =>
    api.get<{ volid: string }[]>(apiPath('nodes', node, 'storage', s.value, 'content'), { content }).catch(() => [])));
  return lists.flat().map((v) => ({ value: v.volid, label: v.volid }));
}

/** Every ISO image on the node's storages, as volume ids. */
export function isoImages(node: string): Promise<Option[]> {
  return volumesOf(node, 'iso');
}

/** The first free index of a bus among the config's keys (scsi0, scsi1, ...). */
export function nextFree(keys: string[], bus: string): number {
  const used = new Set(keys.filter((k) => k.startsWith(bus)).map((k) => Number(k.slice(bus.length))));
  let i = 0;
  while (used.has(i)) i += 1;
  return i;
}

export const BUS_MAX: Record<string, number> = { ide: 3, sata: 5, scsi: 30, virtio: 15 };
