// Polling that stops with its owner and pauses while the tab is hidden.

export interface Poller {
  stop(): void;
  /** Run at once (e.g. after an action). */
  now(): void;
}

/** Run `fn` now and then every `ms` after each run finished (never two at once). */
export function poll(fn: () => Promise<unknown> | unknown, ms: number, { immediate = true } = {}): Poller {
  let timer: ReturnType<typeof setTimeout> | null = null;
  let running = false;
  let stopped = false;
  let again = false;

  async function tick(): Promise<void> {
    timer = null;
    if (stopped) return;
    if (document.visibilityState === 'hidden') {
      schedule();
      return;
    }
    running = true;
    try {
      await fn();
    } catch (err) {
      console.debug('poll failed', err);
    } finally {
      running = false;
    }
    if (again) {
      again = false;
      void tick();
    } else {
      schedule();
    }
  }

  function schedule(): void {
    if (!stopped && timer === null) timer = setTimeout(tick, ms);
  }

  const onVisible = (): void => {
    if (document.visibilityState === 'visible' && !running && !stopped) {
      if (timer !== null) clearTimeout(timer);
      void tick();
    }
  };
  document.addEventListener('visibilitychange', onVisible);

  if (immediate) void tick();
  else schedule();

  return {
    stop() {
      stopped = true;
      if (timer !== null) clearTimeout(timer);
      document.removeEventListener('visibilitychange', onVisible);
    },
    now() {
      if (stopped) return;
      if (running) {
        again = true;
        return;
      }
      if (timer !== null) clearTimeout(timer);
      void tick();
    },
  };
}
