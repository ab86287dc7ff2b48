package web_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"
)

// These are the Chromium tests of authenticated rooms (docs/E2E.md): the
// client library with mlsScheme (client/mls/scheme.js), several Clients in
// one page against a real Hub, every connection through the adversary
// (adversary_test.go), which plays the malicious server of the threat
// model. Each test is one row's "cannot", and fails without its defence.

const e2eHelper = `(async () => {
	T.mls = await import('/lib/mls/scheme.js');
	T.room = await import('/lib/mls/room.js');
	// mk makes a Client with the authenticated scheme, through the adversary,
	// and connects it.
	T.mk = async (name, nick, opts = {}) => {
		const c = T.make(name, { scheme: T.mls.mlsScheme, url: T.advURL, ...opts });
		await c.connect({ nickname: nick });
		return c;
	};
	T.admitted = async (name, room) => !!C[name]?.room(room) && (await C[name].verification(room)).admitted;
	T.code = async (name, room) => (await C[name].verification(room)).safetyCode;
	T.bodies = (name) => T.events(name, 'message').map((e) => e.body);
	return true;
})()`

// e2ePage opens the library's page with the adversary in front of the Hub.
func e2ePage(t *testing.T) (*harness, *person, *adversary) {
	t.Helper()
	h := newHarness(t, pollMode)
	adv := newAdversary(t, h)
	p := h.libPage("e2e")
	js[bool](p, `T.advURL = `+jsq(adv.URL())+`; return true;`)
	if !eval[bool](p, e2eHelper) {
		t.Fatal("e2eHelper did not load")
	}
	return h, p, adv
}

// e2eRoom makes Ana's room and seats every other name in it through an
// invite of its own, each admitted (holding the keys) before the next
// joins. It returns the room id.
func e2eRoom(t *testing.T, p *person, others ...string) string {
	t.Helper()
	room := js[string](p, `const ana = await T.mk('ana', 'Ana'); return (await ana.create()).id;`)
	p.wait("Ana's keys", `T.admitted('ana', `+jsq(room)+`)`)
	for _, name := range others {
		nick := strings.ToUpper(name[:1]) + name[1:]
		js[bool](p, fmt.Sprintf(`
			const c = await T.mk(%q, %q);
			const inv = await C.ana.invite(%s);
			await c.join(C.ana.inviteLink(location.href, inv));
			return true;`, name, nick, jsq(room)))
		p.wait(nick+"'s keys", fmt.Sprintf(`T.admitted(%q, %s)`, name, jsq(room)))
	}
	return room
}

// TestE2ERoom is the room's life as members see it: admitted with the
// keys, the same safety code for everyone, changing with each join and
// leave; messages verified, under the nickname the author's key names;
// history passed on with each entry's author verified; a leave changes
// the keys. It also measures what the issue asks (logged: send to
// display, a join with its keys, a leave's rotation).
func TestE2ERoom(t *testing.T) {
	_, p, _ := e2ePage(t)
	room := e2eRoom(t, p, "ben")
	r := jsq(room)

	codes := js[[]string](p, `return [await T.code('ana', `+r+`), await T.code('ben', `+r+`)];`)
	if codes[0] == "" || codes[0] != codes[1] {
		t.Fatalf("safety codes = %q, want one code for both", codes)
	}
	js[bool](p, `await C.ana.send(`+r+`, 'hello Ben'); return true;`)
	waitEvent(p, "ben", "message", `e.body === 'hello Ben' && e.verified && e.nickname === 'Ana' && e.placement === 'ok' && e.envelope`)
	js[bool](p, `await C.ben.send(`+r+`, 'hi Ana'); return true;`)
	waitEvent(p, "ana", "message", `e.body === 'hi Ana' && e.verified && e.nickname === 'Ben'`)

	// Cleo joins: the code changes, for everyone the same.
	join := js[float64](p, `
		const t0 = performance.now();
		const c = await T.mk('cleo', 'Cleo');
		const inv = await C.ana.invite(`+r+`);
		await c.join(inv);
		while (!(await T.admitted('cleo', `+r+`))) await new Promise((f) => setTimeout(f, 5));
		return performance.now() - t0;`)
	p.wait("the same code for all three", `(async () => { const a = await T.code('ana', `+r+`), b = await T.code('ben', `+r+`), c = await T.code('cleo', `+r+`); return a === b && b === c && a !== `+jsq(codes[0])+`; })()`)

	// History: Ana passes the conversation on; each entry's author checks.
	js[bool](p, `
		const bens = T.events('ana', 'message').map((e) => ({ seq: e.seq, ts: e.ts, from: e.from, nick: e.nickname, body: e.body, envelope: e.envelope }));
		await C.ana.sendHistory(`+r+`, C.cleo.me.id, bens);
		return true;`)
	waitEvent(p, "cleo", "history", `e.entries.length === 1 && e.entries[0].body === 'hi Ana' && e.entries[0].verified === true && e.entries[0].nick === 'Ben' && e.dropped === 0`)

	// Send to display, a room of three: median of 21.
	sendMs := js[[]float64](p, `
		const out = [];
		for (let i = 0; i < 21; i++) {
			const shown = new Promise((f) => { const off = C.cleo.on('message', (e) => { if (e.body === 'ping ' + i) { off(); f(); } }); });
			const t0 = performance.now();
			await C.ana.send(`+r+`, 'ping ' + i);
			await shown;
			out.push(performance.now() - t0);
		}
		return out;`)
	sort.Float64s(sendMs)
	parts := js[map[string]float64](p, `
		const mls = C.ana.room(`+r+`).crypto.mls, other = C.cleo.room(`+r+`).crypto.mls;
		let seal = 0, open = 0;
		for (let i = 0; i < 20; i++) {
			let t0 = performance.now();
			const f = await mls.seal({ v: 1, body: 'x' }, 0);
			seal += performance.now() - t0;
			t0 = performance.now();
			await C.ben.room(`+r+`).crypto.mls.open(f, { from: C.ana.me.id, seq: 1000 + i }).catch(() => {});
			open += performance.now() - t0;
		}
		return { seal: seal / 20, open: open / 20 };`)
	t.Logf("seal %.2f ms, open %.2f ms", parts["seal"], parts["open"])

	// Ben leaves: the keys change (a new epoch without him), and the room
	// goes on.
	epoch := js[float64](p, `return (await C.ana.verification(`+r+`)).epoch;`)
	rot := js[float64](p, `
		const t0 = performance.now();
		await C.ben.leave(`+r+`);
		while ((await C.cleo.verification(`+r+`)).epoch <= `+fmt.Sprint(epoch)+`) await new Promise((f) => setTimeout(f, 2));
		return performance.now() - t0;`)
	p.wait("a roster without Ben", `(async () => (await C.ana.verification(`+r+`)).leaving.length === 0 && C.ana.room(`+r+`).crypto.roster().length === 2)()`)
	js[bool](p, `await C.cleo.send(`+r+`, 'just us now'); return true;`)
	waitEvent(p, "ana", "message", `e.body === 'just us now' && e.verified`)
	t.Logf("figures: join with keys %.0f ms; send to display median %.1f ms (min %.1f, max %.1f); leave rotation %.0f ms",
		join, sendMs[len(sendMs)/2], sendMs[0], sendMs[len(sendMs)-1], rot)
	if bad := js[[]any](p, `return ['ana', 'ben', 'cleo'].flatMap((n) => [...T.events(n, 'invalid'), ...T.events(n, 'refused'), ...T.events(n, 'undecryptable')]);`); len(bad) != 0 {
		t.Errorf("an honest room had problems: %v", bad)
	}
}

// ids returns the member ids of the named Clients.
func ids(p *person, names ...string) map[string]string {
	p.t.Helper()
	out := map[string]string{}
	for _, n := range names {
		out[n] = js[string](p, `return C[`+jsq(n)+`].me.id;`)
	}
	return out
}

// TestE2EServerRelabel: the server shows Ana's genuine message as Cleo's,
// and renames Ana to Eve in the member list Ben is given. Ben's page
// refuses the relabelled message (relabelled), and shows Ana's key's name,
// saying the server's differs (renamed).
func TestE2EServerRelabel(t *testing.T) {
	_, p, adv := e2ePage(t)
	room := e2eRoom(t, p, "ben", "cleo")
	r := jsq(room)
	id := ids(p, "ana", "ben", "cleo")
	adv.setRule(func(c *advConn, ev map[string]any) []map[string]any {
		if c.member() == id["ben"] && ev["type"] == "message" && ev["from"] == id["ana"] {
			ev["from"] = id["cleo"]
		}
		if c.member() == id["ben"] && ev["type"] == "members" {
			for _, m := range ev["members"].([]any) {
				if m := m.(map[string]any); m["id"] == id["ana"] {
					m["nickname"] = "Eve"
				}
			}
		}
		return []map[string]any{ev}
	})
	js[bool](p, `await C.ana.send(`+r+`, 'signed by Ana'); return true;`)
	waitEvent(p, "ben", "refused", `e.reason === 'relabelled' && e.from === `+jsq(id["cleo"]))
	if got := js[[]string](p, `return T.bodies('ben');`); len(got) != 0 {
		t.Errorf("Ben was shown %q, want the relabelled message refused", got)
	}
	js[bool](p, `await C.ben.members(`+r+`); return true;`)
	st := js[map[string]any](p, `const v = await C.ben.verification(`+r+`); return v.members.find((m) => m.id === `+jsq(id["ana"])+`);`)
	if st["status"] != "renamed" || st["nickname"] != "Eve" || st["keyNickname"] != "Ana" {
		t.Errorf("Ben's view of Ana = %v, want renamed: the server says Eve, her key Ana", st)
	}
	// The same message, unchanged, reaches Cleo as Ana's.
	waitEvent(p, "cleo", "message", `e.body === 'signed by Ana' && e.nickname === 'Ana' && e.verified`)
}

// TestE2EServerReplayDropReorder: the server sends one of Ana's messages
// twice (under a new seq), drops one, holds one back and puts one before
// a message Ana had seen. Ben's page shows each once, and says what
// happened: refused as a replay, a gap of one, a late one, a reordered one.
func TestE2EServerReplayDropReorder(t *testing.T) {
	_, p, adv := e2ePage(t)
	room := e2eRoom(t, p, "ben", "cleo")
	r := jsq(room)
	id := ids(p, "ana", "ben", "cleo")
	var held map[string]any
	n := 0 // Ana's messages to Ben so far (not her handshake frames)
	adv.setRule(func(c *advConn, ev map[string]any) []map[string]any {
		text, _ := ev["text"].(string)
		if c.member() != id["ben"] || ev["type"] != "message" || ev["from"] != id["ana"] || !strings.HasPrefix(text, "e2e1.m.") {
			return []map[string]any{ev}
		}
		n++
		switch n {
		case 1: // passed on, then again under a new seq
			again := cloneEvent(ev)
			again["seq"] = ev["seq"].(float64) + 100
			return []map[string]any{ev, again}
		case 2: // dropped
			return nil
		case 3: // held back until after the fourth
			held = ev
			return nil
		case 4:
			return []map[string]any{ev, held}
		}
		return []map[string]any{ev}
	})
	for _, body := range []string{"one", "two", "three", "four"} {
		js[bool](p, `await C.ana.send(`+r+`, `+jsq(body)+`); return true;`)
	}
	waitEvent(p, "ben", "message", `e.body === 'three'`)
	waitEvent(p, "ben", "refused", `e.reason === 'replay'`)
	got := js[[]string](p, `return T.events('ben', 'message').map((e) => e.body + ':' + e.placement + ':' + e.missing);`)
	want := []string{"one:ok:0", "four:gap:2", "three:late:0"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("Ben was shown %v, want %v", got, want)
	}

	// Reordered: Cleo speaks, Ana answers having seen it, and the server
	// gives Ana's answer a seq before Cleo's message.
	adv.setRule(func(c *advConn, ev map[string]any) []map[string]any {
		if c.member() == id["ben"] && ev["type"] == "message" && ev["from"] == id["ana"] {
			ev["seq"] = 1.0
		}
		return []map[string]any{ev}
	})
	js[bool](p, `await C.cleo.send(`+r+`, 'question'); return true;`)
	waitEvent(p, "ana", "message", `e.body === 'question'`)
	js[bool](p, `await C.ana.send(`+r+`, 'answer'); return true;`)
	waitEvent(p, "ben", "message", `e.body === 'answer' && e.placement === 'reordered'`)
}

// TestE2EServerPhantomMember: the server tells Ben of a member nobody
// admitted. Ben's page shows Zed as not admitted, and the safety code,
// which covers who holds the keys, stays Ana's.
func TestE2EServerPhantomMember(t *testing.T) {
	_, p, adv := e2ePage(t)
	room := e2eRoom(t, p, "ben")
	r := jsq(room)
	id := ids(p, "ana", "ben")
	adv.conn(id["ben"]).inject(map[string]any{"type": "member_joined", "room": room, "member": map[string]any{"id": "zZzZzZzZzZzZzZzZ", "nickname": "Zed"}})
	waitEvent(p, "ben", "member_joined", `e.member.nickname === 'Zed'`)
	st := js[map[string]any](p, `const v = await C.ben.verification(`+r+`); return v.members.find((m) => m.nickname === 'Zed');`)
	if st["status"] != "not_admitted" {
		t.Errorf("Ben's view of Zed = %v, want not_admitted", st)
	}
	codes := js[[]string](p, `return [await T.code('ana', `+r+`), await T.code('ben', `+r+`)];`)
	if codes[0] != codes[1] {
		t.Errorf("safety codes %q: a phantom member changed Ben's", codes)
	}
}

// TestE2EMemberForgery: Cleo's own page, changed, signs as Ana, or under
// Ana's nickname. Ben's page refuses both: the server says Cleo sent it
// (relabelled), and Cleo's key is not bound to the name Ana
// (nickname_mismatch).
func TestE2EMemberForgery(t *testing.T) {
	_, p, _ := e2ePage(t)
	room := e2eRoom(t, p, "ben", "cleo")
	r := jsq(room)
	js[bool](p, `
		const mls = C.cleo.room(`+r+`).crypto.mls;
		mls.me = C.ana.me.id;
		await C.cleo.send(`+r+`, 'Ana: I owe Cleo 100');
		mls.me = C.cleo.me.id;
		mls.nick = 'Ana';
		await C.cleo.send(`+r+`, 'Ana again: really');
		return true;`)
	waitEvent(p, "ben", "refused", `e.reason === 'relabelled'`)
	waitEvent(p, "ben", "refused", `e.reason === 'nickname_mismatch'`)
	if got := js[[]string](p, `return T.bodies('ben');`); len(got) != 0 {
		t.Errorf("Ben was shown %q, want both forgeries refused", got)
	}
}

// TestE2EHistoryForgery: Ana, the owner, passes Dan a history with Ben's
// genuine message, an entry she forged in Ben's name, one Ben signed for
// another room, garbage, and an entry whose time no Date holds. Dan sees
// Ben's message, verified, and the four counted as dropped; his page, and
// a reload of it, go on working.
func TestE2EHistoryForgery(t *testing.T) {
	_, p, _ := e2ePage(t)
	room := e2eRoom(t, p, "ben")
	r := jsq(room)
	js[bool](p, `await C.ben.send(`+r+`, 'genuine'); return true;`)
	waitEvent(p, "ana", "message", `e.body === 'genuine'`)
	js[bool](p, `
		const d = await T.mk('dan', 'Dan');
		const inv = await C.ana.invite(`+r+`);
		await d.join(inv);
		return true;`)
	waitEvent(p, "ana", "member_joined", `e.member.nickname === 'Dan'`)
	js[bool](p, `
		const signed = await import('/lib/signed.js');
		const real = T.events('ana', 'message').find((e) => e.body === 'genuine');
		const ana = C.ana.room(`+r+`).crypto.mls;
		const env = (over) => signed.signEnvelope(ana.identity, { kind: 'message', room: `+r+`, from: C.ben.me.id, nick: 'Ben', epoch: ana.epoch, n: 7, seen: 0, ts: Date.now(), body: { v: 1, body: 'forged' }, ...over });
		const entries = [
			{ seq: real.seq, ts: real.ts, from: real.from, nick: 'Ben', body: real.body, envelope: real.envelope },
			{ seq: 3, ts: Date.now(), from: C.ben.me.id, nick: 'Ben', body: 'forged', envelope: await env({}) },
			{ seq: 4, ts: Date.now(), from: C.ben.me.id, nick: 'Ben', body: 'elsewhere', envelope: await env({ room: 'another room' }) },
			{ seq: 5, ts: Date.now(), from: C.ben.me.id, nick: 'Ben', body: 'junk', envelope: 'not.an-envelope' },
			{ seq: 6, ts: Date.now(), from: C.ben.me.id, nick: 'Ben', body: 'far', envelope: real.envelope.replace(/^[^.]*/, btoa(JSON.stringify([1, 'message', `+r+`, C.ben.me.id, 'Ben', 1, 1, 0, 1e300, { v: 1, body: 'far' }])).replace(/=+$/, '')) },
		];
		await C.ana.sendHistory(`+r+`, C.dan.me.id, entries);
		return true;`)
	waitEvent(p, "dan", "history", `true`)
	h := js[map[string]any](p, `const e = T.events('dan', 'history')[0]; return { bodies: e.entries.map((x) => x.body + ':' + x.verified), dropped: e.dropped };`)
	if fmt.Sprint(h["bodies"]) != "[genuine:true]" || h["dropped"] != 4.0 {
		t.Errorf("Dan's history = %v, want only the genuine entry, verified, and 4 dropped", h)
	}
	// A reload: a new Client on Dan's storage, which holds what he saw.
	js[bool](p, `
		C.dan.disconnect();
		const again = T.make('dan2', { scheme: T.mls.mlsScheme, url: T.advURL, store: 'dan' });
		if (!(await again.restore())) throw new Error('no session to restore');
		await again.connect();
		return true;`)
	p.wait("Dan's keys after the reload", `T.admitted('dan2', `+r+`)`)
	js[bool](p, `await C.ben.send(`+r+`, 'after the reload'); return true;`)
	waitEvent(p, "dan2", "message", `e.body === 'after the reload' && e.verified`)
}

// TestE2EKickRotation: Ana kicks Ben. The server (the adversary) keeps
// Ben's page from hearing of it and feeds it the next message's
// ciphertext, as Cleo got it: Ben's page cannot open it; Cleo's can.
func TestE2EKickRotation(t *testing.T) {
	_, p, adv := e2ePage(t)
	room := e2eRoom(t, p, "ben", "cleo")
	r := jsq(room)
	id := ids(p, "ana", "ben", "cleo")
	adv.setRule(func(c *advConn, ev map[string]any) []map[string]any {
		if c.member() == id["ben"] && (ev["type"] == "room_left" || ev["type"] == "member_left") {
			return nil
		}
		return []map[string]any{ev}
	})
	js[bool](p, `await C.ana.kick(`+r+`, C.ben.me.id); return true;`)
	waitEvent(p, "cleo", "member_left", `e.reason === 'kicked'`)
	js[bool](p, `await C.ana.send(`+r+`, 'Ben is out'); return true;`)
	waitEvent(p, "cleo", "message", `e.body === 'Ben is out' && e.verified`)
	secret := adv.conn(id["cleo"]).last("message", id["ana"])
	adv.conn(id["ben"]).inject(secret)
	waitEvent(p, "ben", "undecryptable", `e.seq === `+fmt.Sprint(secret["seq"]))
	if got := js[[]string](p, `return T.bodies('ben');`); len(got) != 0 {
		t.Errorf("Ben, kicked, read %q", got)
	}
}

// TestE2ELeaveRotation: Ben leaves, keeping a copy of his keys. The next
// message, as the server saw it, does not open with them.
func TestE2ELeaveRotation(t *testing.T) {
	_, p, adv := e2ePage(t)
	room := e2eRoom(t, p, "ben", "cleo")
	r := jsq(room)
	id := ids(p, "ana", "ben", "cleo")
	js[bool](p, `T.benKeys = C.ben.room(`+r+`).crypto.save(); await C.ben.leave(`+r+`); return true;`)
	p.wait("the keys changed", `(async () => C.cleo.room(`+r+`).crypto.roster().length === 2)()`)
	js[bool](p, `await C.ana.send(`+r+`, 'after Ben'); return true;`)
	waitEvent(p, "cleo", "message", `e.body === 'after Ben'`)
	text := adv.conn(id["cleo"]).last("message", id["ana"])["text"].(string)
	got := js[string](p, `
		const old = await T.mls.mlsScheme.restore(T.benKeys);
		try {
			const o = await old.decrypt(`+jsq(text)+`, { kind: 'message', room: `+r+`, from: `+jsq(id["ana"])+`, seq: 99 });
			return 'opened: ' + JSON.stringify(o.value);
		} catch (e) { return e.code; }`)
	if got != "undecryptable" {
		t.Errorf("Ben's old keys on the next message: %s, want undecryptable", got)
	}
}

// TestE2ELinks: a link with a changed character is refused before any
// seat is taken (invite_damaged), a link with another secret and its
// check recomputed is refused by the server (invite_invalid: no invite
// has its verifier), and the right link works after them; a
// used link leaked to Dan opens nothing: the server refuses the token,
// and a key package made with its secret is refused by Ana.
func TestE2ELinks(t *testing.T) {
	_, p, _ := e2ePage(t)
	room := js[string](p, `const ana = await T.mk('ana', 'Ana'); return (await ana.create()).id;`)
	r := jsq(room)
	res := js[[]any](p, `
		const ben = await T.mk('ben', 'Ben');
		const inv = await C.ana.invite(`+r+`);
		const link = C.ana.inviteLink(location.href, inv);
		const i = link.indexOf('.', link.indexOf('#join=')) + 5;
		const bad = link.slice(0, i) + (link[i] === 'A' ? 'B' : 'A') + link.slice(i + 1);
		const tampered = await T.fails(ben.join(bad));
		// Another secret, with its check recomputed: the page takes it,
		// and the server finds no invite for its verifier.
		const b64 = (b) => btoa(String.fromCharCode(...b)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
		const token = link.slice(link.indexOf('#join=') + 6, link.indexOf('.', link.indexOf('#join=')));
		const s2 = b64(crypto.getRandomValues(new Uint8Array(16)));
		const check2 = b64(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode('epchat-v1 link\0' + token + '\0' + s2)))).slice(0, 6);
		const forged = link.slice(0, link.indexOf('.', link.indexOf('#join=')) + 1) + s2 + check2;
		const forgedCheck = await T.fails(ben.checkInvite(forged));
		const forgedJoin = await T.fails(ben.join(forged));
		const seated = (await C.ana.members(`+r+`)).members.length;
		await ben.join(link);
		T.link = link; T.secret = inv.secret.slice(0, 22);
		return [tampered.code, forgedCheck.code, forgedJoin.code, seated];`)
	if res[0] != "invite_damaged" || res[3] != 1.0 {
		t.Errorf("a tampered link: %v, want invite_damaged with no seat taken", res)
	}
	if res[1] != "invite_invalid" || res[2] != "invite_invalid" {
		t.Errorf("a link with another secret and its check recomputed: check %v, join %v; want invite_invalid, no seat taken, the right link working after", res[1], res[2])
	}
	p.wait("Ben's keys", `T.admitted('ben', `+r+`)`)
	leaked := js[string](p, `const dan = await T.mk('dan', 'Dan'); return (await T.fails(dan.join(T.link))).code;`)
	if leaked != "invite_invalid" {
		t.Errorf("the used link again: %s, want invite_invalid", leaked)
	}
	// Cleo, seated by an invite of her own, replays a key package made
	// with Ben's used secret: Ana refuses it, and Cleo is given nothing.
	js[bool](p, `
		const cleo = await T.mk('cleo', 'Cleo');
		await cleo.join(await C.ana.invite(`+r+`));
		return true;`)
	p.wait("Cleo's keys", `T.admitted('cleo', `+r+`)`)
	js[bool](p, `
		const kp = await T.room.PendingJoin.prepare({ room: `+r+`, me: C.cleo.me.id, nick: 'Cleo', secret: T.secret });
		await C.cleo.room(`+r+`).crypto.ch.send(kp.frame);
		return true;`)
	waitEvent(p, "ana", "verification", `e.kind === 'key_package_refused'`)
}
