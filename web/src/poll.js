// Polling that stops with its owner and pauses while the tab is hidden.

/**
 * Run `fn` now and then every `ms` after each run finished (never two at once).
 * Returns { stop(), now() }: `now()` runs it at once (e.g. after an action).
 */
export function poll(fn, ms, { immediate = true } = {}) {
  let timer = null;
  let running = false;
  let stopped = false;
  let again = false;

  async function tick() {
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
      tick();
    } else {
      schedule();
    }
  }

  function schedule() {
    if (!stopped && timer === null) timer = setTimeout(tick, ms);
  }

  const onVisible = () => {
    if (document.visibilityState === 'visible' && !running && !stopped) {
      clearTimeout(timer);
      tick();
    }
  };
  document.addEventListener('visibilitychange', onVisible);

  if (immediate) tick();
  else schedule();

  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
      document.removeEventListener('visibilitychange', onVisible);
    },
    now() {
      if (stopped) return;
      if (running) {
        again = true;
        return;
      }
      clearTimeout(timer);
      tick();
    },
  };
}

/** Collects cleanups (pollers, listeners) of a view; `dispose()` runs them all. */
export class Scope {
  constructor() {
    this.cleanups = [];
    this.disposed = false;
  }

  add(cleanup) {
    if (this.disposed) cleanup();
    else this.cleanups.push(cleanup);
    return cleanup;
  }

  poll(fn, ms, opts) {
    const p = poll(fn, ms, opts);
    this.add(() => p.stop());
    return p;
  }

  listen(target, event, fn, opts) {
    target.addEventListener(event, fn, opts);
    this.add(() => target.removeEventListener(event, fn, opts));
  }

  dispose() {
    if (this.disposed) return;
    this.disposed = true;
    for (const c of this.cleanups.splice(0).reverse()) {
      try {
        c();
      } catch (err) {
        console.error(err);
      }
    }
  }
}
