// Start: continue the session of the cookie or ask to log in; show the main screen; come back
// to the login when the user logs out, and put a login window over the screen (keeping what the
// user was doing, open forms included) when the ticket is refused.

import * as RDialog from '@radix-ui/react-dialog';
import { useEffect, useState, type JSX } from 'react';
import { onUnauthorized } from './lib/api';
import * as session from './lib/session';
import { Layout } from './components/Layout';
import { Login } from './views/Login';
import { ConsolePage, consoleTarget } from './console/ConsolePage';

/** A console window (`/?console=...`) shows only the console. */
const CONSOLE = consoleTarget(location.search);

type Phase = { kind: 'boot' } | { kind: 'login' } | { kind: 'main'; user: string };

function Relogin({ previous, onDone }: { previous: string; onDone: (s: session.Session) => void }): JSX.Element {
  // Stays until the user logs in: Escape and clicks outside do not close it.
  return (
    <RDialog.Root open>
      <RDialog.Portal>
        <RDialog.Overlay className="window-overlay relogin-overlay" />
        <RDialog.Content className="window relogin" aria-describedby={undefined}
          onEscapeKeyDown={(e) => e.preventDefault()} onPointerDownOutside={(e) => e.preventDefault()}>
          <RDialog.Title className="visually-hidden">Login</RDialog.Title>
          <Login username={previous} message="Your session has expired. Please log in again." onLogin={onDone} />
        </RDialog.Content>
      </RDialog.Portal>
    </RDialog.Root>
  );
}

export function App(): JSX.Element {
  const [phase, setPhase] = useState<Phase>({ kind: 'boot' });
  const [expired, setExpired] = useState(false);
  const [mainKey, setMainKey] = useState(0);

  useEffect(() => {
    onUnauthorized((_err, sentWith) => session.expire(sentWith));
    const off = session.onSessionChange((kind) => {
      if (kind === 'logout') {
        setExpired(false);
        setPhase({ kind: 'login' });
      } else if (kind === 'expired') {
        setExpired(true);
      }
    });
    session.resume().then((ok) => setPhase(ok ? { kind: 'main', user: session.username() || '' } : { kind: 'login' }));
    return () => {
      off();
    };
  }, []);

  useEffect(() => {
    document.title = phase.kind === 'main' ? `oxve - ${location.hostname}` : 'oxve - Login';
  }, [phase.kind]);

  if (phase.kind === 'boot') return <div className="boot">Loading…</div>;
  if (phase.kind === 'login') {
    return (
      <div className="login-page">
        <Login onLogin={(s) => setPhase({ kind: 'main', user: s.username })} />
      </div>
    );
  }
  return (
    <>
      {CONSOLE ? <ConsolePage target={CONSOLE} /> : <Layout key={mainKey} user={phase.user} onLogout={() => session.logout()} />}
      {expired ? (
        <Relogin previous={phase.user} onDone={(s) => {
          setExpired(false);
          if (s.username !== phase.user) setMainKey((k) => k + 1);
          setPhase({ kind: 'main', user: s.username });
        }} />
      ) : null}
    </>
  );
}
