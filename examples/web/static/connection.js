// The connection as a person sees it: the status in the top bar, the
// nickname form that starts a session, and what the page says when the
// connection or the session is lost. The library reconnects by itself.

import { isProtocolError } from './lib/index.js';
import { $, dismissNotice, focusSoon, notify, setConnText, show } from './ui.js';

export class Connection {
  // client is the library's Client; hasInvite() whether an invite waits
  // for a nickname; onLost() is called when the session is gone (the page
  // forgets its rooms).
  constructor(client, { hasInvite, onLost }) {
    this.client = client;
    this.hasInvite = hasInvite;
    this.onLost = onLost;
  }

  listen() {
    const c = this.client;
    c.on('status', ({ state, at }) => this.status(state, at));
    c.on('disconnected', ({ code }) => {
      if (code === 1001) {
        notify('The server is shutting down or restarting. The page reconnects when it is back.', { kind: 'warn', code: 'shutdown', key: 'conn' });
      } else if (code === 4001 || code === 4002) {
        notify('The connection was too slow and was reset. Reconnecting…', { kind: 'warn', code: 'slow', key: 'conn' });
      }
    });
    c.on('session_invalid', () => this.lost('The server no longer knows your session (it may have restarted), so your rooms are gone. Pick a nickname to start again.', 'session_invalid'));
    c.on('session_ended', () => this.lost('Your session ended: you left every room, in every tab. Pick a nickname to start again.', 'session_ended'));
    $('nick-form').addEventListener('submit', (e) => {
      e.preventDefault();
      this.submitNick();
    });
  }

  status(state, at) {
    document.body.dataset.conn = state === 'open' ? 'connecting' : state;
    switch (state) {
      case 'ready':
        setConnText('Connected');
        dismissNotice('conn');
        break;
      case 'connecting':
      case 'open':
        setConnText(this.client.me ? 'Reconnecting…' : 'Connecting…');
        break;
      case 'waiting': {
        const s = Math.max(1, Math.round((at - Date.now()) / 1000));
        setConnText(`Offline · retrying in ${s} s`);
        break;
      }
      default:
        setConnText('Not connected');
    }
  }

  // start connects with the session the library restored, or as a new
  // user with nickname.
  start(nickname) {
    this.client.connect(nickname === undefined ? {} : { nickname }).catch((e) => {
      if (isProtocolError(e, 'invalid_nickname')) {
        this.showNickForm('That nickname cannot be used: 1 to 32 characters, no control characters.');
      }
      // session_invalid: told by its event; stopped: on purpose.
    });
  }

  lost(text, code) {
    this.onLost();
    notify(text, { kind: 'warn', code });
    this.showNickForm();
  }

  showNickForm(error) {
    show('nick');
    const invited = this.hasInvite();
    $('nick-invited').hidden = !invited;
    $('nick-submit').textContent = invited ? 'Join the room' : 'Continue';
    $('nick-submit').disabled = false;
    const input = $('nick-input');
    if (error) {
      $('nick-help').textContent = error;
      $('nick-help').classList.add('error');
      input.setAttribute('aria-invalid', 'true');
    }
    focusSoon(input);
  }

  submitNick() {
    const input = $('nick-input');
    const nick = input.value.trim();
    // The server's rule, checked here too for a quicker answer.
    // eslint-disable-next-line no-control-regex
    if (nick === '' || Array.from(nick).length > 32 || /[\u0000-\u001f\u007f-\u009f]/.test(nick)) {
      this.showNickForm('Pick 1 to 32 characters, without control characters.');
      return;
    }
    input.removeAttribute('aria-invalid');
    $('nick-help').classList.remove('error');
    $('nick-help').textContent = 'Connecting…';
    $('nick-submit').disabled = true;
    this.start(nick);
  }
}
