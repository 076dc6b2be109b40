// The content panel: the selected object's title, its tabs (vertical, as Proxmox shows them)
// and the view of the selected tab (remounted when the object or tab changes).

import { Component, useRef, type ErrorInfo, type JSX, type ReactNode } from 'react';
import { useResources } from '../lib/resources';
import { navigate, type Route } from '../lib/router';
import { objectTitle, parseObjectId, type ViewContext } from '../views/context';
import { HEADER_TOOLS, tabsFor } from '../views/registry';
import { Icon } from './icons';

class ViewBoundary extends Component<{ children: ReactNode }, { error: Error | null }> {
  state = { error: null as Error | null };

  static getDerivedStateFromError(error: Error): { error: Error } {
    return { error };
  }

  componentDidCatch(error: Error, info: ErrorInfo): void {
    console.error(error, info.componentStack);
  }

  render(): ReactNode {
    if (this.state.error) return <div className="view-error" role="alert">This view failed: {this.state.error.message}</div>;
    return this.props.children;
  }
}

export interface Services {
  openTaskLog: ViewContext['openTaskLog'];
  taskStarted: ViewContext['taskStarted'];
  refreshResources: () => void;
}

export function Content({ route, services }: { route: Route; services: Services }): JSX.Element | null {
  const { byId } = useResources();
  const tabList = useRef<HTMLDivElement>(null);
  const ref = parseObjectId(route.id);
  if (!ref) {
    navigate('datacenter', '', { replace: true });
    return null;
  }
  const tabs = tabsFor(ref.type);
  const active = tabs.find((t) => t.id === route.tab) || tabs[0];
  const resource = ref.type === 'datacenter' ? { id: 'datacenter', type: 'datacenter' } : byId.get(route.id);
  const ctx: ViewContext = { ...ref, id: route.id, resource, ...services };
  const View = active.view;
  const Tools = HEADER_TOOLS[ref.type];

  const onKeyDown = (ev: React.KeyboardEvent): void => {
    const buttons = [...(tabList.current?.querySelectorAll<HTMLButtonElement>('[role=tab]') ?? [])];
    const at = buttons.indexOf(document.activeElement as HTMLButtonElement);
    if (at < 0) return;
    let next: HTMLButtonElement | null = null;
    if (ev.key === 'ArrowDown') next = buttons[(at + 1) % buttons.length];
    else if (ev.key === 'ArrowUp') next = buttons[(at - 1 + buttons.length) % buttons.length];
    if (next) {
      ev.preventDefault();
      next.focus();
      next.click();
    }
  };

  return (
    <main className="content">
      <header className="content-header">
        <span className="content-icon"><Icon name={ref.type} /></span>
        <h1 className="content-title">{objectTitle(ref, byId.get(route.id))}</h1>
        {Tools ? <><span className="spacer" /><Tools key={route.id} ctx={ctx} /></> : null}
      </header>
      <div className="content-body">
        <div className="content-tabs" role="tablist" aria-orientation="vertical" aria-label="Views" ref={tabList} onKeyDown={onKeyDown}>
          {tabs.map((t) => (
            <button key={t.id} type="button" role="tab" className={t.parent ? 'content-tab sub' : 'content-tab'} data-tab={t.id}
              aria-selected={t.id === active.id ? 'true' : 'false'} tabIndex={t.id === active.id ? 0 : -1}
              onClick={() => navigate(route.id, t.id)}>{t.title}</button>
          ))}
        </div>
        <div className="content-view" role="tabpanel" tabIndex={-1} data-view={`${ref.type}:${active.id}`}>
          <ViewBoundary key={`${route.id}:${active.id}`}>
            <View ctx={ctx} />
          </ViewBoundary>
        </div>
      </div>
    </main>
  );
}
