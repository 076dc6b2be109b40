// A VM's or CT's config with pending changes (GET .../pending) and its digest (GET .../config).

import { useState } from 'react';
import { api, apiPath } from '../../lib/api';
import { usePoll } from '../../lib/hooks';
import type { PendingEntry } from '../../lib/qemu';

export function useVmConfig(node: string, vmid: number, type: 'qemu' | 'lxc' = 'qemu'): { rows: PendingEntry[]; digest?: string; error: Error | null; reload: () => void; loaded: boolean } {
  const [rows, setRows] = useState<PendingEntry[]>([]);
  const [digest, setDigest] = useState<string | undefined>();
  const [error, setError] = useState<Error | null>(null);
  const [loaded, setLoaded] = useState(false);
  const reload = usePoll(async () => {
    if (!node) return;
    try {
      const base = apiPath('nodes', node, type, String(vmid));
      const [pending, config] = await Promise.all([
        api.get<PendingEntry[]>(`${base}/pending`),
        api.get<{ digest?: string }>(`${base}/config`),
      ]);
      setRows(pending);
      setDigest(config.digest);
      setError(null);
      setLoaded(true);
    } catch (e) {
      setError(e as Error);
    }
  }, 5000, [node, vmid, type]);
  return { rows, digest, error, reload, loaded };
}
