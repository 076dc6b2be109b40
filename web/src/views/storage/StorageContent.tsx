// Storage -> Content: the volumes of a storage on a node (GET .../content), filtered by content
// type; upload ISO images and templates (with a progress bar) and remove volumes.

import { useRef, useState, type JSX } from 'react';
import { ApiError, api, apiPath } from '../../lib/api';
import { bytes, time } from '../../lib/format';
import { usePoll } from '../../lib/hooks';
import { confirmDialog, openWindow, runAction, type WindowHandle } from '../../components/Dialog';
import { restoreBackup } from '../guest/dialogs';
import { Grid, Toolbar } from '../../components/Grid';
import { ErrorLine } from '../../components/widgets';
import type { ViewContext } from '../context';
import { upload } from './upload';

interface Volume {
  volid: string;
  content: string;
  format?: string;
  size?: number;
  ctime?: number;
  vmid?: number;
}

const CONTENT_LABELS: Record<string, string> = {
  iso: 'ISO image', vztmpl: 'Container template', images: 'Disk image', rootdir: 'Container', backup: 'Backup', snippets: 'Snippet', import: 'Import',
};
const UPLOADABLE = ['iso', 'vztmpl', 'import'];

function UploadBody({ ctx, win, contents, onDone }: { ctx: ViewContext; win: WindowHandle; contents: string[]; onDone: (upid: string) => void }): JSX.Element {
  const [content, setContent] = useState(contents[0] ?? 'iso');
  const [file, setFile] = useState<File | null>(null);
  const [filename, setFilename] = useState('');
  const [progress, setProgress] = useState<{ loaded: number; total: number } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});
  const abort = useRef<AbortController | null>(null);
  const start = async (): Promise<void> => {
    if (!file) {
      setFieldErrors({ file: 'Choose a file.' });
      return;
    }
    setError(null);
    setFieldErrors({});
    abort.current = new AbortController();
    setProgress({ loaded: 0, total: file.size });
    try {
      const upid = await upload({
        node: String(ctx.node), storage: String(ctx.storage), content, file, filename: filename || file.name,
        onProgress: (loaded, total) => setProgress({ loaded, total }), signal: abort.current.signal,
      });
      win.close();
      onDone(upid);
    } catch (e) {
      const err = e as ApiError;
      setProgress(null);
      setError(err.message);
      if (err.errors) setFieldErrors(err.errors);
    }
  };
  const pct = progress && progress.total ? Math.round((progress.loaded / progress.total) * 100) : 0;
  return (
    <>
      <div className="window-body">
        <div className="form">
          {error ? <div className="form-message" role="alert">{error}</div> : null}
          <div className="form-grid">
            <div className="field" data-field="content">
              <label className="label" htmlFor="upload-content">Content</label>
              <div className="control">
                <select id="upload-content" name="content" value={content} onChange={(e) => setContent(e.target.value)} disabled={Boolean(progress)}>
                  {contents.map((c) => <option key={c} value={c}>{CONTENT_LABELS[c] ?? c}</option>)}
                </select>
                {fieldErrors.content ? <div className="field-error">{fieldErrors.content}</div> : null}
              </div>
            </div>
            <div className="field" data-field="file">
              <label className="label" htmlFor="upload-file">File</label>
              <div className="control">
                <input id="upload-file" type="file" name="file" disabled={Boolean(progress)} onChange={(e) => {
                  const f = e.target.files?.[0] ?? null;
                  setFile(f);
                  if (f) setFilename(f.name);
                }} />
                {fieldErrors.file ? <div className="field-error">{fieldErrors.file}</div> : null}
              </div>
            </div>
            <div className="field" data-field="filename">
              <label className="label" htmlFor="upload-filename">File name</label>
              <div className="control">
                <input id="upload-filename" type="text" value={filename} onChange={(e) => setFilename(e.target.value)} disabled={Boolean(progress)} spellCheck={false} />
                {fieldErrors.filename ? <div className="field-error">{fieldErrors.filename}</div> : null}
              </div>
            </div>
          </div>
          {progress ? (
            <div className="upload-progress">
              <progress max={100} value={pct} aria-label="Upload progress" />
              <span className="muted">{pct}% ({bytes(progress.loaded)} of {bytes(progress.total)})</span>
            </div>
          ) : null}
        </div>
      </div>
      <div className="window-buttons">
        <button type="button" className="btn" onClick={() => { abort.current?.abort(); win.close(); }}>{progress ? 'Abort' : 'Cancel'}</button>
        <button type="button" className="btn primary" disabled={Boolean(progress)} onClick={() => void start()}>Upload</button>
      </div>
    </>
  );
}

export function StorageContent({ ctx }: { ctx: ViewContext }): JSX.Element {
  const [rows, setRows] = useState<Volume[]>([]);
  const [error, setError] = useState<Error | null>(null);
  const [filter, setFilter] = useState('');
  const [selected, setSelected] = useState<string | null>(null);
  const base = apiPath('nodes', String(ctx.node), 'storage', String(ctx.storage));
  const reload = usePoll(async () => {
    try {
      setRows(await api.get<Volume[]>(`${base}/content`));
      setError(null);
    } catch (e) {
      setError(e as Error);
    }
  }, 10000, [base]);
  const contents = String(ctx.resource?.content || '').split(',').filter(Boolean);
  const uploadable = UPLOADABLE.filter((c) => contents.includes(c));
  const shown = filter ? rows.filter((r) => r.content === filter) : rows;
  const sel = shown.find((r) => r.volid === selected) ?? null;

  const openUpload = (): void => {
    openWindow({ title: 'Upload', width: 520, className: 'upload-dialog' }, (w) => (
      <UploadBody ctx={ctx} win={w} contents={uploadable} onDone={(upid) => {
        ctx.taskStarted(upid, { show: false });
        // The task stores the file: reload when it is there.
        setTimeout(reload, 1000);
        setTimeout(reload, 3000);
      }} />
    ));
  };
  const remove = async (v: Volume): Promise<void> => {
    if (!await confirmDialog({ title: 'Confirm', message: `Remove ${v.volid}?`, confirmText: 'Remove', danger: true })) return;
    const upid = await runAction(() => api.delete<string | null>(`${base}/content/${encodeURIComponent(v.volid)}`), 'Cannot remove volume');
    if (typeof upid === 'string') ctx.taskStarted(upid, { show: false });
    setSelected(null);
    setTimeout(reload, 500);
  };

  return (
    <div className="view grid-view storage-content">
      <Toolbar items={[
        { text: 'Upload', enabled: uploadable.length > 0, onClick: openUpload },
        { text: 'Restore', enabled: sel?.content === 'backup', title: 'Restore this backup as a new guest (or over its own)',
          onClick: () => sel && void restoreBackup(String(ctx.node), sel.volid, { vmid: sel.vmid, taskStarted: ctx.taskStarted }) },
        { text: 'Remove', enabled: Boolean(sel), danger: true, onClick: () => sel && remove(sel) },
        <label className="inline">Content: <select aria-label="Content type" value={filter} onChange={(e) => setFilter(e.target.value)}>
          <option value="">All</option>
          {contents.map((c) => <option key={c} value={c}>{CONTENT_LABELS[c] ?? c}</option>)}
        </select></label>,
      ]} />
      <ErrorLine error={error} />
      <Grid label="Content" rows={shown} rowKey={(v) => v.volid} selected={selected} onSelect={setSelected}
        emptyText="No content" onActivate={() => {}}
        columns={[
          { key: 'volid', title: 'Name', render: (v) => v.volid.replace(/^[^:]+:(iso\/|vztmpl\/|import\/)?/, '') },
          { key: 'content', title: 'Type', width: '150px', render: (v) => CONTENT_LABELS[v.content] ?? v.content },
          { key: 'format', title: 'Format', width: '90px' },
          { key: 'size', title: 'Size', width: '110px', sortValue: (v) => v.size ?? 0, render: (v) => bytes(v.size) },
          { key: 'ctime', title: 'Date', width: '165px', render: (v) => time(v.ctime) },
        ]} />
    </div>
  );
}
