// Datacenter -> Backup: the backup jobs (GET /cluster/backup, with each job's next run), and
// create / edit / remove with schedule, guest selection, storage, mode, compression and
// retention (POST /cluster/backup, PUT and DELETE /cluster/backup/{id}).

import { useState, type JSX } from 'react';
import { api, apiPath } from '../../lib/api';
import { time } from '../../lib/format';
import { usePoll } from '../../lib/hooks';
import { resources } from '../../lib/resources';
import { confirmDialog, openFormDialog, runAction } from '../../components/Dialog';
import type { FieldSpec } from '../../components/form-model';
import { Grid, Toolbar, useSelection } from '../../components/Grid';
import { ErrorLine } from '../../components/widgets';
import { storagesFor } from '../qemu/storages';
import { BACKUP_MODES, COMPRESSIONS, KEEP_OPTIONS } from '../guest/backup-params';
import { jobFormValues, jobParams, selectionText, type BackupJob } from './backup-job-params';

const SCHEDULES = ['daily', 'sat 02:00', 'mon..fri 22:30', '*/4:00', '*-*-1 00:00', 'weekly'];
const ALL_NODES = { value: '', label: 'All nodes' };

function jobFields(job: BackupJob | null): FieldSpec[] {
  const v = jobFormValues(job ?? { id: '', schedule: '21:00' });
  const nodes = resources.nodes().map((n) => String(n.node));
  const listed = v.selection !== 'all';
  return [
    { name: 'node', label: 'Node', type: 'select', options: [ALL_NODES, ...nodes], value: v.node },
    { name: 'storage', label: 'Storage', type: 'select', required: true, options: v.storage ? [String(v.storage)] : [], value: v.storage },
    { name: 'schedule', label: 'Schedule', required: true, value: v.schedule, list: SCHEDULES,
      help: 'A calendar event: "sat 02:00", "mon..fri 22:30", "*/4:00", "daily".' },
    { name: 'selection', label: 'Selection mode', type: 'select', value: v.selection,
      options: [{ value: 'all', label: 'All' }, { value: 'include', label: 'Include selected VMs' }, { value: 'exclude', label: 'Exclude selected VMs' }],
      onChange: (value, m) => m.show('vmids', value !== 'all') },
    { name: 'vmids', label: 'VM IDs', value: v.vmids, hidden: !listed, placeholder: 'e.g. 100, 101', params: ['vmid', 'exclude'],
      validate: (value, all) => (all.selection === 'include' && !String(value).trim() ? 'Name at least one guest.' : null) },
    { name: 'mode', label: 'Mode', type: 'select', options: BACKUP_MODES, value: v.mode },
    { name: 'compress', label: 'Compression', type: 'select', options: COMPRESSIONS, value: v.compress },
    { name: 'enabled', label: 'Enabled', type: 'checkbox', value: v.enabled },
    { name: 'comment', label: 'Comment', value: v.comment, wide: true },
    ...KEEP_OPTIONS.map((k): FieldSpec => ({ name: k.name, label: k.label, type: 'number', min: 0, value: v[k.name] ?? '',
      params: ['prune-backups'], placeholder: 'storage\'s' })),
  ];
}

/** The create or edit window; resolves true when saved. */
async function editJob(job: BackupJob | null): Promise<boolean> {
  const done = await openFormDialog({
    title: job ? `Edit: Backup Job ${job.id}` : 'Create: Backup Job',
    submitText: job ? 'OK' : 'Create',
    columns: 2,
    width: 680,
    fields: jobFields(job),
    setup: (form) => {
      const node = resources.nodes().find((n) => n.status === 'online')?.node;
      if (!node) return;
      storagesFor(String(node), 'backup')
        .then((s) => form.setOptions('storage', s, job?.storage ?? s[0]?.value ?? ''))
        .catch((e: Error) => form.setFieldError('storage', e.message));
    },
    onSubmit: (v) => (job
      ? api.put(apiPath('cluster', 'backup', job.id), jobParams(v, true))
      : api.post('/cluster/backup', jobParams(v, false))),
  });
  return done !== null;
}

export function DcBackupJobs(): JSX.Element {
  const [rows, setRows] = useState<BackupJob[]>([]);
  const [error, setError] = useState<Error | null>(null);
  const reload = usePoll(async () => {
    try {
      setRows(await api.get<BackupJob[]>('/cluster/backup'));
      setError(null);
    } catch (e) {
      setError(e as Error);
    }
  }, 30000, []);
  const [selected, setSelected, sel] = useSelection(rows, (j) => j.id);

  const edit = (job: BackupJob | null): void => {
    void editJob(job).then((saved) => saved && reload());
  };
  const remove = async (job: BackupJob): Promise<void> => {
    if (!await confirmDialog({ title: 'Remove backup job', message: `Remove backup job ${job.id}?`, confirmText: 'Remove', danger: true })) return;
    await runAction(() => api.delete(apiPath('cluster', 'backup', job.id)), 'Cannot remove backup job');
    setSelected(null);
    reload();
  };
  return (
    <div className="view grid-view backup-jobs">
      <Toolbar items={[
        { text: 'Add', primary: true, onClick: () => edit(null) },
        { text: 'Edit', enabled: Boolean(sel), onClick: () => sel && edit(sel) },
        { text: 'Remove', danger: true, enabled: Boolean(sel), onClick: () => sel && void remove(sel) },
      ]} />
      <ErrorLine error={error} />
      <Grid label="Backup jobs" rows={rows} rowKey={(j) => j.id} selected={selected} onSelect={setSelected} onActivate={(j) => edit(j)}
        emptyText="No backup jobs"
        columns={[
          { key: 'enabled', title: 'Enabled', width: '78px', render: (j) => (j.enabled === undefined || Number(j.enabled) ? 'yes' : 'no') },
          { key: 'node', title: 'Node', width: '80px', render: (j) => j.node || 'All' },
          { key: 'schedule', title: 'Schedule', width: '120px', render: (j) => <span title={j.id}>{j.schedule}</span> },
          { key: 'next-run', title: 'Next Run', width: '166px', sortValue: (j) => j['next-run'] ?? 0,
            render: (j) => (j['next-run'] ? time(j['next-run']) : (Number(j.enabled ?? 1) ? '-' : 'disabled')) },
          { key: 'storage', title: 'Storage', width: '90px' },
          { key: 'mode', title: 'Mode', width: '70px' },
          { key: 'selection', title: 'Selection', render: selectionText, sortable: false },
          { key: 'comment', title: 'Comment' },
        ]} />
    </div>
  );
}
