// The content panel: the selected object's title, its tabs (vertical, as Proxmox shows them)
// and the view of the selected tab (remounted when the object or tab changes).

import * as Tabs from '@radix-ui/react-tabs';
import { Component, type ErrorInfo, type JSX, type ReactNode } from 'react';
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

  return (
    <main className="content">
      <header className="content-header">
        <span className="content-icon"><Icon name={ref.type} /></span>
        <h1 className="content-title">{objectTitle(ref, byId.get(route.id))}</h1>
        {Tools ? <><span className="spacer" /><Tools key={route.id} ctx={ctx} /></> : null}
      </header>
      <Tabs.Root className="content-body" orientation="vertical" value={active.id} onValueChange={(tab) => navigate(route.id, tab)}>
        {/* Radix skips forwarding the list's focus to the active tab after a mouse click on a
            tab; without this the list itself becomes an extra, invisible Tab stop. */}
        <Tabs.List className="content-tabs" aria-label="Views" onFocus={(e) => {
          if (e.target === e.currentTarget) e.currentTarget.querySelector<HTMLElement>('[role=tab][data-state=active]')?.focus();
        }}>
          {tabs.map((t) => (
            <Tabs.Trigger key={t.id} value={t.id} className={t.parent ? 'content-tab sub' : 'content-tab'} data-tab={t.id}>{t.title}</Tabs.Trigger>
          ))}
        </Tabs.List>
        <Tabs.Content value={active.id} className="content-view" tabIndex={-1} data-view={`${ref.type}:${active.id}`}>
          <ViewBoundary key={`${route.id}:${active.id}`}>
            <View ctx={ctx} />
          </ViewBoundary>
        </Tabs.Content>
      </Tabs.Root>
    </main>
  );
}
