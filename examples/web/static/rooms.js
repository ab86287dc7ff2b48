// The rooms on screen: the lobby, the tabs, the room on show (its head,
// members, invite panel and composer), and what a person does to them.
// Each room's model (owner, members, lock, keys) is the library's; this
// module keeps what is only the page's: the conversation shown, the invite
// link on show, whether the room closed, unread counts.

import { isProtocolError, safetyWords } from './lib/index.js';
import { Conversation } from './messages.js';
import { dropLog, loadSafety, saveActive, saveSafety } from './store.js';
import {
  own, $, clearNotices, confirmDialog, dismissCode, dismissNotice, focusSoon, nick, notify, requestFailed, setAvatar, show, tag,
} from './ui.js';
import { roomName } from './words.js';

// duration says a number of seconds in words: "10 minutes", "90 seconds".
function duration(s) {
  if (s % 60 !== 0 || s < 60) return `${s} ${s === 1 ? 'second' : 'seconds'}`;
  const m = s / 60;
  return `${m} ${m === 1 ? 'minute' : 'minutes'}`;
}

// REFUSED says why a message that opened was not shown (mlsScheme).
const REFUSED = {
  replay: 'it was shown already, and the server sent it again.',
  relabelled: 'its author’s key says another member sent it: the server relabelled it.',
  bad_signature: 'its signature does not match its author’s key: it was forged or changed.',
  unknown_sender: 'its author holds no key in this room.',
  nickname_mismatch: 'it names its author with another nickname than their key does.',
  wrong_room: 'it was written for another room.',
  epoch_mismatch: 'it was sealed under other keys than it claims.',
};

const CLOSE_REASONS = {
  owner: 'The owner closed this room.',
  idle: 'This room closed because nobody wrote for a while.',
  host: 'The server’s operator closed this room.',
  shutdown: 'This room closed because the server is shutting down.',
  lost: 'This room is gone: the server lost its data.',
};

export class Rooms {
  // client is the library's Client; pageURL() the page's address without
  // its fragment, for invite links.
  constructor(client, pageURL) {
    this.client = client;
    this.pageURL = pageURL;
    this.views = new Map(); // room id -> view (see view)
    this.active = null; // id of the room on screen
    this.copyTimer = 0;
    this.openMenu = null; // member id whose menu is open
  }

  // view returns the page's view of a library room, made on first use.
  view(room) {
    let v = this.views.get(room.id);
    if (v) {
      v.room = room;
      return v;
    }
    v = {
      id: room.id,
      name: roomName(room.id),
      room, // the library's Room: after it closed, as it last was
      conv: new Conversation(room.id, {
        me: () => this.client.me?.id,
        onScreen: () => this.active === room.id,
      }),
      safety: '',
      safetyChanged: false, // the code changed since this tab last showed it
      // What the scheme can check of the members (Client.verification):
      // member id -> {status, keyNickname}; admitted, whether this tab
      // holds the room's keys.
      verify: new Map(),
      admitted: true,
      invite: null,
      createdAt: null, // when we created it (server clock), for its lifetime
      closed: null, // {reason, text}
    };
    this.views.set(room.id, v);
    this.updateSafety(v);
    this.updateVerification(v);
    return v;
  }

  // updateVerification reads what the room's scheme can check of its
  // members, for the member list's tags: who holds no keys, whose key
  // names another nickname than the server does.
  updateVerification(v) {
    this.client.verification(v.id).then((r) => {
      v.verify = new Map(r.members.map((m) => [m.id, { status: m.status, keyNickname: m.keyNickname }]));
      v.admitted = r.admitted;
      if (this.active === v.id) this.renderMembers(v);
    }, () => {}); // the room is gone: nothing to show
  }

  // updateSafety computes the room's safety code, and says so when it is
  // not the one this tab showed before: everyone must compare it again.
  updateSafety(v) {
    v.room.crypto.safetyCode().then((code) => {
      if (this.views.get(v.id) !== v || v.closed) return;
      // No code ('') is no keys yet: the first code is not a change.
      const kept = loadSafety(v.id) || v.safety || null;
      if (kept !== null && code !== '' && kept !== code) {
        v.safetyChanged = true;
        v.conv.notice('The safety code changed. The room’s keys, or who holds them, changed (someone joined or left): compare the words again with everyone in the room: if yours differ from theirs, someone here is not who the others think.', 'warn');
      }
      saveSafety(v.id, code);
      v.safety = code;
      if (this.active === v.id) this.renderSafety(v);
    }, () => {});
  }

  // renderSafety shows the safety code as eight words (safetyWords), each
  // its own box, to read aloud one at a time, and its digits in the
  // explanation; a code that changed says so until looked at.
  renderSafety(v) {
    const el = $('safety');
    if (el.dataset.code !== v.safety) {
      el.dataset.code = v.safety;
      const parts = [];
      for (const w of safetyWords(v.safety)) {
        if (parts.length > 0) parts.push(' ');
        const s = document.createElement('span');
        s.className = 'group';
        s.textContent = w;
        parts.push(s);
      }
      if (parts.length === 0) parts.push('waiting for the room’s keys');
      el.replaceChildren(...parts);
      $('safety-digits').textContent = v.safety;
    }
    $('safety-changed').hidden = !v.safetyChanged;
  }

  activeView() {
    return this.active ? this.views.get(this.active) ?? null : null;
  }

  activate(v) {
    this.active = v ? v.id : null;
    saveActive(this.active);
    if (v) this.markRead(v);
    this.render();
  }

  isOwner(v) {
    return !!this.client.me && v.room.owner === this.client.me.id;
  }

  // ---------------------------------------------------------------------
  // Rendering.

  render() {
    this.renderWhoami();
    this.renderTitle();
    if (!this.client.me) return;
    const v = this.activeView();
    if (!v) {
      show('lobby');
      this.renderLobby();
      return;
    }
    show('room', v.id);
    this.renderTabs();
    this.renderRoom(v);
  }

  renderWhoami() {
    const me = this.client.me;
    $('whoami').hidden = !me;
    $('forget-btn').hidden = !me;
    if (!me) {
      // A session gone leaves nothing of it in the top bar.
      $('whoami-name').replaceChildren();
      $('whoami-avatar').textContent = '';
      $('whoami-avatar').style.removeProperty('--hue');
      return;
    }
    $('whoami-name').replaceChildren(nick(me.nickname));
    setAvatar($('whoami-avatar'), me.id, me.nickname);
  }

  renderTitle() {
    const unread = [...this.views.values()].reduce((n, v) => n + v.conv.unread, 0);
    const v = this.activeView();
    document.title = `${unread > 0 ? `(${unread}) ` : ''}${v ? `${v.name} · ` : ''}epchat`;
  }

  renderLobby() {
    const views = [...this.views.values()];
    $('lobby-rooms').hidden = views.length === 0;
    $('lobby-room-list').replaceChildren(...views.map((v) => {
      const li = document.createElement('li');
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'btn';
      const name = document.createElement('span');
      name.textContent = v.name;
      const meta = document.createElement('span');
      meta.className = 'muted';
      const n = v.room.members.length;
      meta.textContent = v.closed ? 'closed' : `${n} ${n === 1 ? 'member' : 'members'}`;
      b.append(name, meta);
      b.addEventListener('click', () => this.activate(v));
      li.append(b);
      return li;
    }));
    $('create-btn').disabled = !this.client.ready;
  }

  renderTabs() {
    const tabs = [...this.views.values()].map((v) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'tab';
      b.dataset.room = v.id;
      if (v.id === this.active) b.setAttribute('aria-current', 'page');
      const name = document.createElement('span');
      name.textContent = v.name;
      b.append(name);
      if (v.conv.unread > 0) {
        const badge = document.createElement('span');
        badge.className = 'badge';
        badge.textContent = String(v.conv.unread);
        badge.setAttribute('aria-label', `${v.conv.unread} unread`);
        b.append(badge);
      }
      b.addEventListener('click', () => this.activate(v));
      return b;
    });
    const add = document.createElement('button');
    add.type = 'button';
    add.className = 'tab tab-new';
    add.textContent = '+ New room or invite';
    add.addEventListener('click', () => this.activate(null));
    $('room-tabs').replaceChildren(...tabs, add);
  }

  renderRoom(v) {
    const ready = this.client.ready;
    const view = $('view-room');
    view.dataset.room = v.id;
    view.dataset.owner = String(this.isOwner(v));
    view.dataset.closed = String(!!v.closed);
    view.dataset.locked = String(v.room.locked);
    $('room-title').textContent = v.name;
    this.renderSafety(v);
    const owner = this.isOwner(v) && !v.closed;
    $('invite-btn').hidden = !owner;
    $('close-btn').hidden = !owner;
    $('lock-btn').hidden = !owner;
    $('invite-btn').disabled = !ready || v.room.locked;
    $('close-btn').disabled = !ready;
    $('lock-btn').disabled = !ready;
    $('lock-btn').setAttribute('aria-pressed', String(v.room.locked));
    $('lock-label').textContent = v.room.locked ? 'Unlock' : 'Lock';
    $('room-locked').hidden = !v.room.locked || !!v.closed;
    $('leave-btn').hidden = !!v.closed;
    $('leave-btn').disabled = !ready;

    const banner = $('room-banner');
    banner.hidden = !v.closed;
    if (v.closed) {
      banner.dataset.reason = v.closed.reason;
      $('room-banner-text').textContent = v.closed.text;
    }

    const wrap = $('log-wrap');
    if (wrap.firstChild !== v.conv.list) {
      wrap.replaceChildren(v.conv.list);
      v.conv.scroll();
    }
    this.renderMembers(v);
    this.renderInvite(v);
    this.renderLifetime(v);

    $('composer').hidden = !!v.closed;
    $('send-btn').disabled = !ready;
    this.renderComposerLimit();
  }

  renderMembers(v) {
    if (this.active !== v.id) return;
    const room = v.room;
    const me = this.client.me;
    const moderate = this.isOwner(v) && !v.closed;
    if (v.closed) {
      // Nobody is in a closed room: its last members are not shown as if.
      $('member-count').textContent = '· none, the room is closed';
      $('member-list').replaceChildren();
      return;
    }
    $('member-count').textContent = `· ${room.members.length} of ${this.client.limits.max_members}`;
    $('member-list').replaceChildren(...room.members.map((m) => {
      const li = document.createElement('li');
      li.dataset.id = m.id;
      const av = document.createElement('span');
      av.className = 'avatar avatar-sm';
      av.setAttribute('aria-hidden', 'true');
      setAvatar(av, m.id, m.nickname);
      li.append(av, nick(m.nickname, 'name'));
      if (m.id === room.owner) {
        li.dataset.owner = 'true';
        li.append(tag('owner', ''));
      }
      const mine = !!me && m.id === me.id;
      if (mine) li.append(tag('you', 'tag-you'));
      // What the keys say, where it is not what the server says.
      const check = v.verify.get(m.id);
      // Without the keys this page can check nobody: it tags only itself.
      if (mine ? !v.admitted : v.admitted && check?.status === 'not_admitted') {
        li.dataset.verify = 'not_admitted';
        const t = tag(mine ? 'waiting for keys' : 'no keys', 'tag-warn');
        t.title = mine
          ? 'You are seated, but your page does not hold the room’s keys yet: someone already in the room must be online to give them.'
          : 'Seated by the server, but not given the room’s keys: they cannot read or send anything here.';
        li.append(t);
      } else if (!mine && v.admitted && check?.status === 'renamed') {
        li.dataset.verify = 'renamed';
        const t = tag('key: ', 'tag-warn');
        t.append(nick(check.keyNickname ?? ''));
        t.title = 'The server calls this member by one nickname, their key by another: trust the key’s.';
        li.append(t);
      }
      if (!mine && moderate) li.append(...this.memberMenu(v, m));
      return li;
    }));
  }

  // closeMenu closes the member menu, if one is open.
  closeMenu() {
    if (this.openMenu === null) return;
    this.openMenu = null;
    const v = this.activeView();
    if (v) this.renderMembers(v);
  }

  // memberMenu is the owner's small menu on a member: remove them.
  memberMenu(v, m) {
    const open = this.openMenu === m.id;
    const btn = document.createElement('button');
    btn.type = 'button';
    btn.className = 'member-menu-btn';
    btn.setAttribute('aria-haspopup', 'menu');
    btn.setAttribute('aria-expanded', String(open));
    btn.setAttribute('aria-label', `Actions for ${m.nickname}`);
    btn.textContent = '⋯';
    btn.addEventListener('click', () => {
      this.openMenu = open ? null : m.id;
      this.renderMembers(v);
      if (!open) focusSoon($('member-list').querySelector(`li[data-id="${CSS.escape(m.id)}"] .kick-btn`));
    });
    if (!open) return [btn];
    const menu = document.createElement('div');
    menu.className = 'member-menu';
    menu.setAttribute('role', 'menu');
    const kick = document.createElement('button');
    kick.type = 'button';
    kick.className = 'kick-btn';
    kick.setAttribute('role', 'menuitem');
    kick.textContent = 'Remove from room';
    kick.disabled = !this.client.ready;
    kick.addEventListener('click', () => {
      this.openMenu = null;
      this.renderMembers(v);
      this.kick(v, m);
    });
    kick.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') {
        this.closeMenu();
        focusSoon($('member-list').querySelector(`li[data-id="${CSS.escape(m.id)}"] .member-menu-btn`));
      }
    });
    menu.append(kick);
    return [btn, menu];
  }

  // renderInvite shows the owner's latest invite as it is: waiting (with
  // the time it has left), used (by whom), or expired; once it is spent,
  // the panel offers the next one.
  renderInvite(v) {
    const panel = $('invite-panel');
    const inv = v.invite;
    panel.hidden = !inv || this.active !== v.id;
    if (!inv) return;
    const left = inv.expires - this.client.serverNow();
    const state = inv.usedBy !== null ? 'used' : left <= 0 ? 'expired' : 'waiting';
    panel.dataset.state = state;
    panel.classList.toggle('expired', state === 'expired');
    const input = $('invite-link');
    const p = $('invite-expiry');
    $('copy-btn').hidden = state !== 'waiting';
    $('next-invite-btn').hidden = state === 'waiting';
    $('next-invite-btn').disabled = !this.client.ready || v.room.locked;
    if (state !== 'waiting') {
      input.value = '';
      $('invite-meter').style.transform = 'scaleX(0)';
      if (p.dataset.state === state) return;
      p.dataset.state = state;
      if (state === 'used') {
        input.placeholder = 'This link was used';
        p.replaceChildren('Used by ', nick(inv.usedBy), '.');
      } else {
        input.placeholder = 'This link expired';
        p.textContent = 'Expired. Make a new link with Invite.';
      }
      return;
    }
    if (input.value !== inv.link) input.value = inv.link;
    $('copy-btn').disabled = false;
    const s = Math.ceil(left / 1000);
    const text = `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
    let t = $('invite-countdown');
    if (!t || p.dataset.state !== state) {
      p.dataset.state = state;
      t = document.createElement('time');
      t.id = 'invite-countdown';
      const wait = document.createElement('span');
      wait.className = 'long';
      wait.textContent = 'Waiting to be used · expires';
      const short = document.createElement('span');
      short.className = 'short';
      short.textContent = 'Expires';
      p.replaceChildren(wait, short, ' in ', t);
    }
    t.textContent = text;
    t.dateTime = `PT${s}S`;
    $('invite-meter').style.transform = `scaleX(${Math.min(1, left / inv.ttl)})`;
  }

  // renderLifetime says how long the room lasts: a room closes when
  // nobody writes for the server's room_idle, counted from the last
  // message (or its creation), on the server's clock as message times are.
  renderLifetime(v) {
    const p = $('room-lifetime');
    p.hidden = !!v.closed;
    if (v.closed) return;
    const idle = this.client.limits.room_idle;
    v.conv.idleRule(duration(idle));
    const last = v.conv.lastTs() ?? v.createdAt;
    const key = `${last}/${idle}`;
    if (p.dataset.key === key) return;
    p.dataset.key = key;
    // Beside the room's name, in short (shorter on a phone); the
    // conversation's intro says the rule.
    const span = (cls, text) => {
      const s = document.createElement('span');
      s.className = cls;
      s.textContent = text;
      return s;
    };
    if (last === null) {
      p.replaceChildren(span('long', `Closes when nobody has written for ${duration(idle)}.`), span('short', `Closes after ${duration(idle)} quiet`));
      return;
    }
    const at = new Date(last + idle * 1000);
    const t = document.createElement('time');
    t.dateTime = at.toISOString();
    t.title = at.toLocaleString();
    t.textContent = at.toLocaleTimeString([], { hour: 'numeric', minute: '2-digit' });
    p.replaceChildren(span('long', 'Closes at about '), span('short', 'Closes '), t,
      span('long', ' if nobody writes'), span('short', ' if quiet'));
    p.title = `A room closes when nobody has written for ${duration(idle)}: this one at about ${t.textContent}, unless someone writes.`;
  }

  tick() {
    const v = this.activeView();
    if (v?.invite) this.renderInvite(v);
    if (v) this.renderLifetime(v);
  }

  // safetySeen: the person looked at what the safety code is for; a
  // change is no longer news.
  safetySeen() {
    const v = this.activeView();
    if (!v || !v.safetyChanged) return;
    v.safetyChanged = false;
    this.renderSafety(v);
  }

  markRead(v) {
    if (!v || v.conv.unread === 0) return;
    v.conv.unread = 0;
    this.renderTabs();
    this.renderTitle();
  }

  // ---------------------------------------------------------------------
  // What a person does.

  async create() {
    const btn = $('create-btn');
    btn.disabled = true;
    try {
      const v = this.view(await this.client.create());
      v.createdAt = this.client.serverNow();
      dismissNotice('create');
      dismissNotice('join');
      v.conv.notice('You created this room. Invite people with one-time links.');
      this.activate(v);
      focusSoon($('invite-btn'));
    } catch (e) {
      requestFailed(e, { too_many_rooms: 'You are in as many rooms as allowed. Leave one first.' }, { key: 'create' });
    } finally {
      btn.disabled = false;
    }
  }

  // join redeems an invite. It reports false when the invite may still be
  // good (offline) and should be tried again, and 'nickname_taken' when a
  // member has a nickname like ours and this session is in no room: the
  // invite is not spent, and the page asks for another nickname (see
  // Connection.rename).
  async join(inv) {
    try {
      const v = this.view(await this.client.join(inv));
      dismissNotice('join');
      dismissNotice('create');
      v.conv.notice(`You joined ${v.name}.`);
      this.activate(v);
      focusSoon($('composer-input'));
    } catch (e) {
      if (isProtocolError(e, 'nickname_taken') && this.client.rooms.size === 0) {
        return 'nickname_taken';
      }
      const retry = isProtocolError(e) && ['offline', 'timeout', 'stopped'].includes(e.code);
      // The notice belongs to the screen the person is back at.
      this.render();
      requestFailed(e, {
        invite_damaged: 'This invite link is incomplete or damaged. Ask for a new one.',
        invite_invalid: 'This invite link has expired, was already used, or was changed. Ask the room’s owner for a new one.',
        room_full: 'This room is full. Ask its owner to send you a new link once a seat is free.',
        room_locked: 'This room is locked: its owner is not letting anyone in right now. The link still works once they unlock it, until it expires.',
        already_member: 'You are already in this room.',
        too_many_rooms: 'You are in as many rooms as allowed. Leave one, then open the link again.',
        nickname_taken: 'Someone in that room has a nickname that looks like yours, so you cannot join it under this one. Use “Forget me” to start again with another nickname.',
      }, { key: 'join' });
      return !retry;
    }
    return true;
  }

  async makeInvite() {
    const v = this.activeView();
    if (!v || v.closed) return;
    const btn = $('invite-btn');
    btn.disabled = true;
    try {
      const inv = await this.client.invite(v.id);
      v.invite = {
        link: this.client.inviteLink(this.pageURL(), inv), expires: inv.expires, ttl: inv.ttl, ref: inv.ref, usedBy: null,
      };
      dismissNotice('invite', `room:${v.id}`);
      clearTimeout(this.copyTimer);
      $('copy-label').textContent = 'Copy';
      this.renderInvite(v);
      $('copy-btn').focus();
    } catch (e) {
      requestFailed(e, {
        room_full: 'Every seat in this room is taken: there is nobody left to invite.',
        too_many_invites: 'There are as many unused invites as free seats. Wait for one to be used or to expire.',
        forbidden: 'Only the room’s owner can invite people.',
        room_locked: 'The room is locked: unlock it to invite someone.',
      }, { key: 'invite', scope: `room:${v.id}` });
    } finally {
      btn.disabled = !this.client.ready || v.room.locked;
    }
  }

  async copyInvite() {
    const input = $('invite-link');
    const text = input.value;
    if (!text) return;
    let ok = false;
    try {
      await navigator.clipboard.writeText(text);
      ok = true;
    } catch {
      input.focus();
      input.select();
      try {
        ok = document.execCommand('copy');
      } catch {
        ok = false;
      }
    }
    const label = $('copy-label');
    label.textContent = ok ? 'Copied' : 'Press Ctrl+C';
    clearTimeout(this.copyTimer);
    this.copyTimer = setTimeout(() => {
      label.textContent = 'Copy';
    }, 2000);
  }

  async close() {
    const v = this.activeView();
    if (!v || v.closed) return;
    const ok = await confirmDialog({
      title: `Close ${v.name}?`,
      text: 'Everyone is removed at once and the conversation is gone for good. Unused invite links stop working.',
      confirm: 'Close room',
    });
    if (!ok) return;
    try {
      await this.client.close(v.id); // room_closed follows
    } catch (e) {
      requestFailed(e, { forbidden: 'Only the room’s owner can close it.' }, { key: 'close', scope: `room:${v.id}` });
    }
  }

  async leave() {
    const v = this.activeView();
    if (!v || v.closed) return;
    const ok = await confirmDialog({
      title: `Leave ${v.name}?`,
      text: this.isOwner(v) && v.room.members.length > 1
        ? 'The conversation disappears from this tab and the earliest member who joined becomes the owner. You need a new invite to come back.'
        : 'The conversation disappears from this tab. You need a new invite to come back.',
      confirm: 'Leave',
    });
    if (!ok) return;
    try {
      await this.client.leave(v.id);
    } catch (e) {
      requestFailed(e, {}, { key: 'leave', scope: `room:${v.id}` });
      return;
    }
    this.dismiss(v);
    notify(`You left ${v.name}.`, { kind: 'info', code: 'left', timeout: 5000 });
  }

  async kick(v, m) {
    const ok = await confirmDialog({
      title: ['Remove ', nick(m.nickname), '?'],
      text: ['', nick(m.nickname), ` leaves ${v.name} at once and can come back only with a new invite: the links you made before stop working.`],
      confirm: 'Remove',
    });
    if (!ok) return;
    try {
      await this.client.kick(v.id, m.id); // member_left follows
    } catch (e) {
      requestFailed(e, {
        forbidden: 'Only the room’s owner can remove people.',
        not_found: 'That member is no longer in the room.',
      }, { key: 'kick', scope: `room:${v.id}` });
    }
  }

  async toggleLock() {
    const v = this.activeView();
    if (!v || v.closed) return;
    const btn = $('lock-btn');
    btn.disabled = true;
    try {
      await this.client.lock(v.id, !v.room.locked); // room_locked follows
    } catch (e) {
      requestFailed(e, { forbidden: 'Only the room’s owner can lock it.' }, { key: 'lock', scope: `room:${v.id}` });
    } finally {
      this.render();
    }
  }

  // dismiss takes a room off the screen and out of storage.
  dismiss(v) {
    dropLog(v.id);
    this.views.delete(v.id);
    // A seat among the rooms allowed is free again.
    dismissCode(['too_many_rooms']);
    if (this.active === v.id) {
      const next = [...this.views.values()].find((x) => !x.closed) ?? this.views.values().next().value ?? null;
      this.activate(next);
    } else {
      this.render();
    }
    if (!this.activeView()) focusSoon($('create-btn'));
  }

  // ended marks a room that is over for this tab: closed, or we were
  // removed. It stays on screen, with the reason, until dismissed.
  ended(v, reason, text) {
    if (v.closed) return;
    v.closed = { reason, text };
    v.invite = null;
    // What was said of the room is over with it.
    clearNotices((el) => el.dataset.scope !== `room:${v.id}`);
    v.conv.notice(text, 'warn');
    dropLog(v.id);
    if (this.active !== v.id) notify(`${v.name}: ${text}`, { kind: 'warn', code: `closed_${reason}` });
    this.render();
  }

  // ---------------------------------------------------------------------
  // The composer.

  composerText() {
    return $('composer-input').value.replace(/^\s*\n|\s+$/g, '');
  }

  renderComposerLimit() {
    const input = $('composer-input');
    const over = !this.client.fits(this.composerText(), this.active ?? undefined);
    $('composer-limit').hidden = !over;
    if (over) input.setAttribute('aria-invalid', 'true');
    else input.removeAttribute('aria-invalid');
  }

  async send() {
    const v = this.activeView();
    const input = $('composer-input');
    const text = this.composerText();
    if (!v || v.closed || text.trim() === '') return;
    if (!this.client.ready) {
      notify('You are offline: the message was not sent. It will be here when you are back.', { kind: 'warn', code: 'offline', key: 'send', scope: `room:${v.id}`, timeout: 5000 });
      return;
    }
    if (!this.client.fits(text, v.id)) {
      notify('That message is too long to send. Split it into several.', { kind: 'warn', code: 'too_large', key: 'send', scope: `room:${v.id}`, timeout: 6000 });
      return;
    }
    input.value = '';
    this.renderComposerLimit();
    try {
      const me = this.client.me;
      const r = await this.client.send(v.id, text);
      dismissNotice('send', `room:${v.id}`);
      v.conv.add({ seq: r.seq, ts: r.ts, from: me.id, nick: me.nickname, body: text, mid: r.mid, envelope: r.envelope });
      v.conv.scroll(true);
    } catch (e) {
      if (input.value === '') {
        input.value = text;
        this.renderComposerLimit();
      }
      requestFailed(e, { too_large: 'That message is too long to send. Split it into several.' }, { key: 'send', scope: `room:${v.id}` });
    }
  }

  // ---------------------------------------------------------------------
  // What the library tells.

  listen() {
    const c = this.client;
    c.on('message', ({ room, from, nickname, seq, ts, body, mid, envelope, placement, missing, verified }) => {
      const v = this.view(room);
      if (!v.conv.add({ seq, ts, from, nick: nickname, body, mid, envelope, placement, missing, verified })) return;
      if (this.active !== v.id || document.hidden) {
        v.conv.unread++;
        this.renderTabs();
        this.renderTitle();
      }
    });
    c.on('history', ({ room, from, entries, dropped, omitted }) => {
      const v = this.view(room);
      const via = c.nameOf(from);
      v.conv.addHistory(entries, via);
      if (dropped > 0) {
        v.conv.notice([`${dropped === 1 ? 'One of the earlier messages' : `${dropped} of the earlier messages`} passed on by `, nick(via),
          ' did not check out against its author’s key, and ', dropped === 1 ? 'is' : 'are', ' not shown.'], 'warn');
      }
      if (omitted > 0) {
        v.conv.notice([nick(via), ` left out ${omitted === 1 ? 'one earlier message' : `${omitted} earlier messages`}, as their authors’ counters tell.`], 'warn');
      }
    });
    c.on('refused', ({ room, nickname, reason }) => {
      this.view(room).conv.notice(['A message shown as from ', nick(nickname), ` was refused: ${own(REFUSED, reason) ?? 'it did not check out.'}`], 'warn');
    });
    c.on('verification', ({ room, kind, member }) => {
      const v = this.view(room);
      const who = member ? nick(c.nameOf(member)) : 'Someone';
      const text = own({
        key_package_refused: [who, ' tried to join with a link that was used already or is not one of yours: they were not given the keys.'],
        commit_refused: ['A change of the room’s keys from ', who, ' did not check out, and was ignored.'],
        removed: 'The room’s keys moved on without you: you cannot read what is sent from now on.',
        attach_failed: 'This room’s encryption could not start: reload the page, or leave the room.',
      }, kind);
      if (text) v.conv.notice(text, 'warn');
      this.updateVerification(v);
    });
    c.on('undecryptable', ({ room, nickname, kind, reason }) => {
      this.view(room).conv.notice(kind === 'history'
        ? 'The earlier messages could not be decrypted.'
        : reason === 'before_admitted'
          ? ['A message from ', nick(nickname), ' was sent before your page held the room’s keys, and cannot be read.']
          : reason === 'removed'
            ? ['A message from ', nick(nickname), ' was sent after the room’s keys moved on without you.']
            : ['A message from ', nick(nickname), ' could not be decrypted: it was changed on the way, or made with another key.'], 'warn');
    });
    c.on('member_joined', ({ room, member, invite }) => {
      const v = this.view(room);
      dismissCode(['too_many_invites'], `room:${v.id}`); // an invite was used
      v.conv.notice([nick(member.nickname), ' joined.']);
      this.updateVerification(v);
      if (invite !== null && v.invite?.ref === invite) {
        v.invite.usedBy = member.nickname;
        this.renderInvite(v);
      }
      this.renderMembers(v);
      if (this.isOwner(v) && member.id !== c.me?.id && v.conv.msgs.length > 0) {
        c.sendHistory(room.id, member.id, v.conv.entries()).catch(() => {
          // They left, we lost ownership, or we are offline.
        });
      }
    });
    c.on('member_left', ({ room, member, nickname, reason }) => {
      const v = this.view(room);
      if (this.openMenu === member) this.openMenu = null;
      dismissCode(['room_full', 'too_many_invites'], `room:${v.id}`);
      const who = nick(nickname);
      v.conv.notice(reason === 'disconnected' ? [who, ' lost their connection and left.']
        : reason === 'kicked' ? [who, ' was removed by the owner.']
          : [who, ' left.']);
      this.updateVerification(v);
      this.render();
    });
    c.on('owner_changed', ({ room, owner }) => {
      const v = this.view(room);
      v.conv.notice(this.isOwner(v)
        ? 'You are now the owner: you can invite people, remove them, lock and close the room.'
        : [nick(c.nameOf(owner)), ' is now the owner.']);
      this.render();
    });
    c.on('room_locked', ({ room, locked }) => {
      const v = this.view(room);
      if (!locked) dismissCode(['room_locked'], `room:${v.id}`);
      v.conv.notice(locked
        ? 'The room is locked: nobody new can join, and invite links wait until it is unlocked.'
        : 'The room is unlocked: invite links work again.');
      this.render();
    });
    c.on('room_closed', ({ room, reason, byMe }) => {
      const v = this.view(room);
      this.ended(v, reason, reason === 'owner' && (byMe || this.isOwner(v))
        ? 'You closed this room. Nobody can write in it any more.'
        : own(CLOSE_REASONS, reason) ?? 'This room was closed.');
    });
    c.on('room_left', ({ room, reason }) => {
      this.ended(this.view(room), reason, reason === 'kicked'
        ? 'The owner removed you from this room.'
        : 'You are no longer in this room.');
    });
    c.on('room_gone', ({ room }) => {
      this.ended(this.view(room), 'gone', 'You are no longer in this room: it closed, or you were away for too long.');
    });
    c.on('epoch', ({ room }) => {
      const v = this.view(room);
      this.updateSafety(v);
      this.updateVerification(v);
    });
    c.on('missed', ({ room, count }) => {
      this.view(room).conv.notice(count === 1
        ? '1 message was sent while you were away. The server keeps nothing, so it is gone.'
        : `${count} messages were sent while you were away. The server keeps nothing, so they are gone.`, 'warn');
    });
  }
}
