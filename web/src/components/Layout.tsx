// The main screen: header, resource tree on the left, content panel, task bar at the bottom.

import { useCallback, useEffect, useMemo, useRef, useState, type JSX } from 'react';
import { api } from '../lib/api';
import { resources, useResources } from '../lib/resources';
import { currentRoute, navigate, useRoute } from '../lib/router';
import { parseObjectId } from '../views/context';
import { Content, type Services } from './Content';
import { TaskBar } from './TaskBar';
import { openTaskLog } from './TaskLog';
import { Tree } from './Tree';
import { openCreateVm } from '../views/qemu/CreateVmWizard';
import { openCreateCt } from '../views/lxc/CreateCtWizard';

export function Layout({ user, onLogout }: { user: string; onLogout: () => void }): JSX.Element {
  const route = useRoute();
  const { list, error } = useResources();
  const [version, setVersion] = useState('');
  const refreshTasks = useRef<() => void>(() => {});

  useEffect(() => {
    resources.start();
    api.get<{ version: string; oxve?: string; repoid?: string }>('/version').then((v) => {
      setVersion(`Virtual Environment ${v.version} (oxve ${v.oxve || v.repoid || ''})`.trim());
    }).catch(() => {});
    return () => resources.stop();
  }, []);

  const services: Services = useMemo(() => ({
    openTaskLog: (upid: string, node?: string) => {
      openTaskLog(upid, node);
    },
    taskStarted: (upid: string, { show = true } = {}) => {
      refreshTasks.current();
      resources.refresh();
      if (show && upid) openTaskLog(upid);
    },
    refreshResources: () => resources.refresh(),
  }), []);

  // Selecting another object of the same kind keeps the tab (node A's tasks -> node B's tasks).
  const onSelect = useCallback((id: string) => {
    const cur = currentRoute();
    const same = parseObjectId(cur.id)?.type === parseObjectId(id)?.type;
    navigate(id, same ? cur.tab : '');
  }, []);

  /** The node new guests go to: the selected object's if it is online, or the first online one. */
  const targetNode = (): string | undefined => {
    const online = list.filter((r) => r.type === 'node' && r.status === 'online').map((r) => String(r.node));
    const selected = list.find((r) => r.id === route.id)?.node;
    return selected && online.includes(selected) ? selected : online[0];
  };

  return (
    <div className="layout">
      <header className="topbar">
        <a className="brand" href="#datacenter"><span className="logo" aria-hidden="true" /><span className="brand-name">oxve</span></a>
        <span className="version">{version}</span>
        <span className="spacer" />
        <button type="button" className="btn primary create-vm-button" disabled={!targetNode()}
          onClick={() => { const node = targetNode(); if (node) openCreateVm(node, (upid) => services.taskStarted(upid)); }}>Create VM</button>
        <button type="button" className="btn primary create-ct-button" disabled={!targetNode()}
          onClick={() => { const node = targetNode(); if (node) openCreateCt(node, (upid) => services.taskStarted(upid)); }}>Create CT</button>
        <span className="current-user" title="Logged in user">{user}</span>
        <button type="button" className="btn logout" onClick={onLogout}>Logout</button>
      </header>
      <div className="workspace">
        <Tree list={list} error={error} selectedId={route.id} onSelect={onSelect} />
        <Content route={route} services={services} />
      </div>
      <TaskBar onRefresher={(fn) => { refreshTasks.current = fn; }} />
    </div>
  );
}
