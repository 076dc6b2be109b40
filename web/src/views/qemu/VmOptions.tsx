// VM -> Options: name, start at boot, OS type, boot order, protection, agent, ... with pending
// changes; each edited in a small dialog (PUT .../config), or reverted.

import { useState, type JSX } from 'react';
import { api, apiPath } from '../../lib/api';
import { OPTION_KEYS, OSTYPES, type PendingEntry } from '../../lib/qemu';
import { openFormDialog, runAction } from '../../components/Dialog';
import { Toolbar } from '../../components/Grid';
import type { FieldSpec } from '../../components/form-model';
import type { ViewContext } from '../context';
import { PendingGrid } from './PendingGrid';
import { useVmConfig } from './useConfig';

const TITLES: Record<string, string> = {
  name: 'Name', onboot: 'Start at boot', startup: 'Start/Shutdown order', ostype: 'OS Type', boot: 'Boot Order',
  tablet: 'Use tablet for pointer', hotplug: 'Hotplug', acpi: 'ACPI support', kvm: 'KVM hardware virtualization',
  freeze: 'Freeze CPU at startup', localtime: 'Use local time for RTC', protection: 'Protection', agent: 'QEMU Guest Agent',
  description: 'Notes', tags: 'Tags',
};
const BOOLEANS: Record<string, boolean> = { onboot: false, tablet: true, acpi: true, kvm: true, freeze: false, localtime: false, protection: false };

function format(key: string, v: string): string {
  if (key in BOOLEANS || key === 'agent') return /^(1|enabled=1)/.test(v) ? 'Yes' : 'No';
  if (key === 'ostype') return OSTYPES.find((o) => o.value === v)?.label ?? v;
  return v;
}

function fieldFor(key: string, value: string | undefined): FieldSpec {
  if (key in BOOLEANS) return { name: key, label: TITLES[key], type: 'checkbox', value: value === undefined ? BOOLEANS[key] : value === '1' };
  if (key === 'agent') return { name: key, label: TITLES[key], type: 'checkbox', value: /^(1|enabled=1)/.test(value ?? '') };
  if (key === 'ostype') return { name: key, label: TITLES[key], type: 'select', options: OSTYPES, value: value ?? 'other' };
  if (key === 'description') return { name: key, label: TITLES[key], type: 'textarea', rows: 6, value: value ?? '' };
  if (key === 'boot') return { name: key, label: TITLES[key], value: value ?? '', placeholder: 'order=scsi0;ide2;net0' };
  return { name: key, label: TITLES[key] ?? key, value: value ?? '' };
}

export function VmOptions({ ctx }: { ctx: ViewContext }): JSX.Element {
  const node = ctx.resource?.node || '';
  const vmid = Number(ctx.vmid);
  const { rows: all, digest, error, reload } = useVmConfig(node, vmid);
  const [selected, setSelected] = useState<string | null>(null);
  const byKey = new Map(all.map((e) => [e.key, e]));
  const rows: PendingEntry[] = OPTION_KEYS.map((k) => byKey.get(k) ?? { key: k });
  const sel = rows.find((e) => e.key === selected) ?? null;

  const edit = async (e: PendingEntry): Promise<void> => {
    const current = e.pending ?? e.value;
    const field = fieldFor(e.key, current === undefined ? undefined : String(current));
    const changed = await openFormDialog({
      title: `Edit: ${TITLES[e.key] ?? e.key}`,
      width: e.key === 'description' ? 620 : 460,
      fields: [field],
      onSubmit: async (v) => {
        const val = v[e.key];
        const text = typeof val === 'boolean' ? (val ? '1' : '0') : String(val);
        const params = text === '' ? { delete: e.key, digest } : { [e.key]: text, digest };
        await api.put(apiPath('nodes', node, 'qemu', String(vmid), 'config'), params);
      },
    });
    if (changed) {
      reload();
      ctx.refreshResources();
    }
  };
  const revert = async (e: PendingEntry): Promise<void> => {
    await runAction(() => api.put(apiPath('nodes', node, 'qemu', String(vmid), 'config'), { revert: e.key }), `Cannot revert ${e.key}`);
    reload();
  };
  return (
    <div className="view grid-view vm-options">
      <Toolbar items={[
        { text: 'Edit', enabled: Boolean(sel), onClick: () => sel && edit(sel) },
        { text: 'Revert', enabled: Boolean(sel && (sel.pending !== undefined || sel.delete)), onClick: () => sel && revert(sel) },
      ]} />
      <PendingGrid label="Options" rows={rows} title={(k) => TITLES[k] ?? k}
        format={(k, v) => format(k, v)} selected={selected} onSelect={setSelected} onActivate={edit} error={error?.message} />
    </div>
  );
}
