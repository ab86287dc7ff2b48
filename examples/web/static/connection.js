// The connection as a person sees it: the status in the top bar, the
// nickname form that starts a session, and what the page says when the
// connection or the session is lost. The library reconnects by itself.

import { isProtocolError } from './lib/index.js';
import {
  $, clearNotices, confirmDialog, dismissNotice, focusSoon, notify, requestFailed, setConnText, show,
} from './ui.js';

const NICK_HELP = '1 to 32 characters. Others in your rooms will see it.';

export class Connection {
  // client is the library's Client; hasInvite() whether an invite waits
  // for a nickname; onLost() is called when the session is gone (the page
  // forgets its rooms).
  constructor(client, { hasInvite, onLost }) {
    this.client = client;
    this.hasInvite = hasInvite;
    this.onLost = onLost;
    // renaming: the session is being ended to start again under another
    // nickname (see rename), so its end is not news.
    this.renaming = false;
    // pending: a nickname was sent and the page waits for the server: the
    // nickname form's help tells the connection as the top bar does.
    this.pending = false;
    this.countdown = 0; // the interval that counts a backoff wait down
  }

  listen() {
    const c = this.client;
    c.on('status', ({ state, at }) => this.status(state, at));
    c.on('disconnected', ({ code }) => {
      if (code === 1001) {
        notify('The server is shutting down or restarting. The page reconnects when it is back.', { kind: 'warn', code: 'shutdown', key: 'conn', scope: 'global' });
      } else if (code === 1012) {
        notify('The server lost its data (its store restarted empty), so your rooms are gone. Pick a nickname to start again.', { kind: 'warn', code: 'lost', key: 'conn', scope: 'global' });
      } else if (code === 4001 || code === 4002) {
        notify('The connection was too slow and was reset. Reconnecting…', { kind: 'warn', code: 'slow', key: 'conn', scope: 'global' });
      }
    });
    // The token was presented by another connection: another tab with a
    // copy of this one, or someone who has it.
    c.on('session_connected', ({ connections }) => {
      notify(`Your session was just opened somewhere else too (${connections} connections now): another tab of this page, or someone who has its data. If that was not you, use “Forget me”.`,
        { kind: 'warn', code: 'session_connected', key: 'session_connected', scope: 'global' });
    });
    c.on('session_invalid', () => this.lost('The server no longer knows your session (it may have restarted), so your rooms are gone. Pick a nickname to start again.', 'session_invalid'));
    c.on('session_ended', () => {
      if (this.renaming) {
        this.onLost();
        return;
      }
      this.lost('Your session ended: you left every room, in every tab. Pick a nickname to start again.', 'session_ended');
    });
    $('forget-btn').addEventListener('click', () => this.forget());
    $('nick-form').addEventListener('submit', (e) => {
      e.preventDefault();
      this.submitNick();
    });
  }

  status(state, at) {
    document.body.dataset.conn = state === 'open' ? 'connecting' : state;
    clearInterval(this.countdown);
    switch (state) {
      case 'ready':
        this.pending = false;
        this.connText('Connected');
        // What was said of the connection, and of requests refused while
        // offline, is resolved.
        dismissNotice('conn');
        dismissNotice('offline');
        dismissNotice('hello');
        break;
      case 'connecting':
      case 'open':
        this.connText(this.client.me ? 'Reconnecting…' : 'Connecting…');
        break;
      case 'waiting': {
        // Counted down to the try, not said once: the seconds left are
        // those of the clock.
        const left = () => {
          const s = Math.max(1, Math.ceil((at - Date.now()) / 1000));
          this.connText(`Offline · retrying in ${s} s`);
        };
        left();
        this.countdown = setInterval(left, 250);
        break;
      }
      default:
        this.connText('Not connected');
        // Stopped with a nickname on its way: the form is usable again.
        if (this.pending && !this.renaming) this.showNickForm('Not connected. Try again.');
    }
  }

  // connText tells the connection in the top bar, and in the nickname
  // form's help while a nickname waits for the server.
  connText(text) {
    setConnText(text);
    if (this.pending) $('nick-help').textContent = text;
  }

  // start connects with the session the library restored, or as a new
  // user with nickname.
  start(nickname) {
    this.client.connect(nickname === undefined ? {} : { nickname }).catch((e) => {
      if (isProtocolError(e, 'invalid_nickname')) {
        this.showNickForm('That nickname cannot be used: 1 to 32 characters, no control characters.');
      } else if (isProtocolError(e) && ['too_many_users', 'too_many_connections', 'unavailable', 'rate_limited'].includes(e.code)) {
        // Refused for now: the library tries again, and the notice goes
        // once the page is in.
        requestFailed(e, {}, { key: 'hello', scope: 'global' });
      }
      // session_invalid: told by its event; stopped: on purpose.
    });
  }

  lost(text, code) {
    this.onLost();
    // What was said of the old session is over with it, but a notice of
    // why the connection dropped, which tells how it was lost.
    clearNotices((el) => el.dataset.code === 'lost');
    this.showNickForm();
    if (!document.querySelector('#notices .notice[data-code="lost"]')) notify(text, { kind: 'warn', code });
  }

  // forget ends the session, after asking: every room is left, in every
  // tab, and the server forgets the nickname.
  async forget() {
    const ok = await confirmDialog({
      title: 'Forget me?',
      text: 'You leave every room at once, in every tab, and the server forgets your nickname. Nothing of your conversations is kept anywhere.',
      confirm: 'Forget me',
    });
    if (!ok) return;
    try {
      await this.client.endSession(); // session_ended follows
    } catch (e) {
      requestFailed(e);
    }
  }

  // rename starts again under another nickname, for a joiner whose
  // nickname looks like a member's (nickname_taken): the server never
  // renames a session, so this one, in no room yet, is ended first.
  async rename(nickname) {
    this.renaming = true;
    try {
      await this.client.endSession();
    } catch {
      // Offline: the session stays, unused, until the server drops it.
    } finally {
      this.renaming = false;
    }
    this.start(nickname);
  }

  showNickForm(error) {
    this.pending = false;
    show('nick');
    const invited = this.hasInvite();
    $('nick-invited').hidden = !invited;
    $('nick-submit').textContent = invited ? 'Join the room' : 'Continue';
    $('nick-submit').disabled = false;
    const input = $('nick-input');
    const help = $('nick-help');
    help.textContent = error ?? NICK_HELP;
    help.classList.toggle('error', !!error);
    if (error) {
      input.setAttribute('aria-invalid', 'true');
      input.select();
    } else {
      input.removeAttribute('aria-invalid');
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
    $('nick-submit').disabled = true;
    $('nick-help').textContent = 'Connecting…';
    this.pending = true;
    if (this.client.me && this.client.rooms.size === 0) this.rename(nick);
    else this.start(nick);
  }
}
