// Start: continue the session of the cookie or ask to log in; show the main screen; come back
// to the login when the user logs out, and put a login window over the screen (keeping what the
// user was doing) when the ticket is refused.

import { onUnauthorized } from './api.js';
import { h, replace } from './dom.js';
import { createLayout } from './components/layout.js';
import { createLogin } from './views/login.js';
import * as session from './session.js';

const app = document.getElementById('app');
let layout = null;
let relogin = null;

function showLogin(message = '') {
  layout?.destroy();
  layout = null;
  document.title = 'oxve - Login';
  const login = createLogin({ message, onLogin: () => showMain() });
  replace(app, h('div', { class: 'login-page' }, login.el));
  login.focus();
}

function showMain() {
  document.title = `oxve - ${location.hostname}`;
  layout?.destroy();
  layout = createLayout({ onLogout: () => session.logout() });
  replace(app, layout.el);
}

/** The ticket expired while working: log in again on top of the current screen. */
function showRelogin() {
  if (relogin || !layout) return;
  const previous = session.username();
  const dialog = h('dialog', { class: 'window relogin', 'aria-label': 'Login' });
  const login = createLogin({
    username: previous || '',
    message: 'Your session has expired. Please log in again.',
    onLogin: (s) => {
      dialog.close();
      dialog.remove();
      relogin = null;
      if (s.username !== previous) showMain();
      else layout?.setUser(s.username);
    },
  });
  dialog.append(login.el);
  dialog.addEventListener('cancel', (ev) => ev.preventDefault());
  document.body.append(dialog);
  dialog.showModal();
  login.focus();
  relogin = dialog;
}

session.onSessionChange((kind) => {
  if (kind === 'logout') {
    relogin?.remove();
    relogin = null;
    showLogin();
  } else if (kind === 'expired') {
    showRelogin();
  }
});

onUnauthorized((err, sentWith) => session.expire(sentWith));

(async () => {
  if (await session.resume()) showMain();
  else showLogin();
})();
