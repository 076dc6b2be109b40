// POST .../storage/{storage}/upload as multipart form data with upload progress (fetch has
// none): XMLHttpRequest with the session's cookie and CSRF token.

import { API_BASE, ApiError, apiPath, getCsrfToken } from '../../lib/api';

export interface UploadRequest {
  node: string;
  storage: string;
  content: string;
  file: File;
  filename?: string;
  onProgress: (loaded: number, total: number) => void;
  signal?: AbortSignal;
}

/** Upload; resolves the UPID of the task that stores the file. */
export function upload(req: UploadRequest): Promise<string> {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    // As Proxmox's UI sends it: the file part, named `filename`, comes last; its file name is
    // the name to store it under.
    form.append('content', req.content);
    form.append('filename', req.file, req.filename || req.file.name);
    const xhr = new XMLHttpRequest();
    xhr.open('POST', API_BASE + apiPath('nodes', req.node, 'storage', req.storage, 'upload'));
    const csrf = getCsrfToken();
    if (csrf) xhr.setRequestHeader('CSRFPreventionToken', csrf);
    xhr.upload.onprogress = (e) => req.onProgress(e.loaded, e.lengthComputable ? e.total : req.file.size);
    xhr.onerror = () => reject(new ApiError(0, 'connection error during the upload'));
    xhr.onabort = () => reject(new ApiError(0, 'upload aborted'));
    xhr.onload = () => {
      let body: { data?: string; message?: string; errors?: Record<string, string> } | null = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = null;
      }
      if (xhr.status >= 200 && xhr.status < 300 && body && typeof body.data === 'string') resolve(body.data);
      else reject(new ApiError(xhr.status, body?.message?.trim() || xhr.statusText || `HTTP ${xhr.status}`, body?.errors ?? null));
    };
    req.signal?.addEventListener('abort', () => xhr.abort());
    xhr.send(form);
  });
}
