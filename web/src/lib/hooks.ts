// Small React hooks shared by the views.

import { useEffect, useRef, useState } from 'react';
import { poll, type Poller } from './poll';

/**
 * Poll `fn` every `ms` while the component is mounted (paused in hidden tabs). Returns a
 * function that runs it at once. `deps` restart the poller.
 */
export function usePoll(fn: () => Promise<unknown> | unknown, ms: number, deps: unknown[] = []): () => void {
  const fnRef = useRef(fn);
  fnRef.current = fn;
  const poller = useRef<Poller | null>(null);
  useEffect(() => {
    const p = poll(() => fnRef.current(), ms);
    poller.current = p;
    return () => p.stop();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [ms, ...deps]);
  return () => poller.current?.now();
}

/** Load something once (and again when `deps` change or `reload()` is called). */
export function useLoad<T>(fn: () => Promise<T>, deps: unknown[] = []): { data: T | undefined; error: Error | null; reload: () => void } {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<Error | null>(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    fn().then((d) => {
      if (live) {
        setData(d);
        setError(null);
      }
    }, (e: Error) => {
      if (live) setError(e);
    });
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [tick, ...deps]);
  return { data, error, reload: () => setTick((t) => t + 1) };
}
