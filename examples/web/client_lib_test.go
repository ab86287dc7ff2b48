package web_test

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// These are the client library's own tests (package
// github.com/epchat-go/epchat/client, served by the demo under /lib/), in
// headless Chromium against a real Hub over loopback, behind the tap. Each
// runs several Clients side by side in one blank page (/libtest), each with
// a storage of its own, as several tabs would. libHelper records every
// event each Client emits, with rooms reduced to their ids.

const libHelper = `(async () => {
	const lib = await import('/lib/index.js');
	const EVENTS = ['status', 'welcome', 'disconnected', 'message', 'undecryptable', 'history',
		'member_joined', 'member_left', 'owner_changed', 'room_closed', 'room_left', 'room_locked',
		'room_gone', 'missed', 'epoch', 'session_connected', 'session_ended', 'session_invalid', 'invalid',
		'refused', 'verification'];
	const brief = (ev) => JSON.parse(JSON.stringify(ev, (k, v) =>
		k === 'crypto' ? undefined : (k === 'room' && v && typeof v === 'object' ? v.id : v)));
	window.T = {
		lib, clients: {}, logs: {}, stores: {},
		wsURL: location.origin.replace(/^http/, 'ws') + '/chat/',
		store(name) {
			const m = (this.stores[name] ??= new Map());
			return {
				get: (k) => (m.has(k) ? JSON.parse(m.get(k)) : null),
				set: (k, v) => m.set(k, JSON.stringify(v)),
				remove: (k) => m.delete(k),
			};
		},
		// make is a Client named name; opts.store names the storage it
		// shares (a reload is a new Client on the old storage).
		make(name, opts = {}) {
			const { store, ...rest } = opts;
			const c = new lib.Client({ url: this.wsURL, storage: this.store(store ?? name), ...rest });
			const log = (this.logs[name] = []);
			for (const type of EVENTS) c.on(type, (ev) => log.push({ type, ...brief(ev) }));
			this.clients[name] = c;
			return c;
		},
		events(name, type) {
			return (this.logs[name] ?? []).filter((e) => e.type === type);
		},
		// fails awaits p and describes how it settled.
		async fails(p) {
			try {
				await p;
				return { ok: true, code: '', proto: false };
			} catch (e) {
				return { ok: false, code: e?.code ?? '', proto: e instanceof lib.ProtocolError };
			}
		},
	};
	window.C = T.clients;
	return true;
})()`

// libPage opens the blank page in a browser of its own, with libHelper.
func (h *harness) libPage(name string) *person {
	h.t.Helper()
	p := h.person(name)
	p.open(h.url + "/libtest")
	p.wait("the page", `document.readyState === 'complete'`)
	if !eval[bool](p, libHelper) {
		h.t.Fatal("libHelper did not load")
	}
	return p
}

// js runs body as an async function in the page, with C the Clients by
// name, and returns what it returns.
func js[T any](p *person, body string) T {
	p.t.Helper()
	return eval[T](p, `(async () => { const C = T.clients; const lib = T.lib; `+body+` })()`)
}

// waitEvent waits until client name emitted an event of type for which
// cond (a JavaScript expression of e) holds.
func waitEvent(p *person, name, typ, cond string) {
	p.t.Helper()
	if cond == "" {
		cond = "true"
	}
	p.wait(fmt.Sprintf("%s: %s where %s", name, typ, cond), fmt.Sprintf(`T.events(%q, %q).some((e) => %s)`, name, typ, cond))
}

// failure is how a request settled, as T.fails tells it.
type failure struct {
	OK    bool   `json:"ok"`
	Code  string `json:"code"`
	Proto bool   `json:"proto"`
}

// wantCode checks that a request was rejected with a ProtocolError of
// code.
func wantCode(t *testing.T, what string, got failure, code string) {
	t.Helper()
	if got.OK || got.Code != code || !got.Proto {
		t.Errorf("%s: settled %+v, want a ProtocolError %s", what, got, code)
	}
}

// seatTwo makes ana (owner) and ben (member) in one room, and returns the
// room id.
func seatTwo(t *testing.T, p *person) string {
	t.Helper()
	return js[string](p, `
		const ana = T.make('ana'), ben = T.make('ben');
		await ana.connect({ nickname: 'Ana' });
		await ben.connect({ nickname: 'Ben' });
		const room = await ana.create();
		const inv = await ana.invite(room.id);
		await ben.join(ana.inviteLink(location.href, inv));
		return room.id;`)
}

// TestLibRequests goes through every request and event of a room's life,
// in both connection modes: create, invite, join, send, members, history
// both ways, leave (with the owner's seat passing on), close; and checks on
// the tap that no body crossed the server in clear.
func TestLibRequests(t *testing.T) {
	for _, mode := range []connMode{pollMode, blockingMode} {
		t.Run(mode.String(), func(t *testing.T) {
			testLibRequests(t, mode)
		})
	}
}

func testLibRequests(t *testing.T, mode connMode) {
	h := newHarness(t, mode)
	p := h.libPage("lib")
	room := seatTwo(t, p)
	h.checkMode()

	waitEvent(p, "ana", "member_joined", `e.member.nickname === 'Ben'`)
	if got := js[[]string](p, `return C.ben.room(`+jsq(room)+`).members.map((m) => m.nickname);`); strings.Join(got, ",") != "Ana,Ben" {
		t.Errorf("Ben's members = %v, want Ana,Ben", got)
	}
	welcome := js[map[string]any](p, `return T.events('ana', 'welcome')[0];`)
	if welcome["resumed"] != false || welcome["you"].(map[string]any)["nickname"] != "Ana" {
		t.Errorf("Ana's welcome = %v, want a new session for Ana", welcome)
	}

	// send, and message on the other side, decrypted.
	sent := js[map[string]float64](p, `return await C.ana.send(`+jsq(room)+`, 'Saturday, the ridge trail');`)
	if sent["seq"] != 1 || sent["ts"] <= 0 {
		t.Errorf("send = %v, want seq 1 and a time", sent)
	}
	waitEvent(p, "ben", "message", `e.body === 'Saturday, the ridge trail' && e.seq === 1 && e.nickname === 'Ana' && e.verified === false`)
	js[bool](p, `await C.ben.send(`+jsq(room)+`, 'Count me in'); return true;`)
	waitEvent(p, "ana", "message", `e.body === 'Count me in' && e.nickname === 'Ben'`)
	if n := js[int](p, `return T.events('ana', 'message').length;`); n != 1 {
		t.Errorf("Ana got %d message events, want only Ben's (her own comes back as the send reply)", n)
	}

	// members.
	members := js[[]string](p, `const r = await C.ben.members(`+jsq(room)+`); return [r.owner === C.ana.me.id ? 'owner ok' : 'owner wrong', ...r.members.map((m) => m.nickname)];`)
	if strings.Join(members, ",") != "owner ok,Ana,Ben" {
		t.Errorf("members = %v", members)
	}

	// history: Ana passes the conversation to Cleo, in several batches.
	js[bool](p, `
		const cleo = T.make('cleo');
		await cleo.connect({ nickname: 'Cleo' });
		const inv = await C.ana.invite(`+jsq(room)+`);
		await cleo.join({ token: inv.token, secret: inv.secret });
		return true;`)
	waitEvent(p, "ana", "member_joined", `e.member.nickname === 'Cleo'`)
	batches := js[int](p, `
		const cleo = C.cleo.me.id;
		const long = 'x'.repeat(6000);
		const entries = [1, 2, 3].map((seq) => ({ seq, ts: Date.now(), from: C.ana.me.id, nick: 'Ana', body: seq + long }));
		return await C.ana.sendHistory(`+jsq(room)+`, cleo, entries);`)
	if batches < 2 {
		t.Errorf("sendHistory sent %d requests, want the 18 kB split in several", batches)
	}
	p.wait("Cleo's history", `T.events('cleo', 'history').flatMap((e) => e.entries).length === 3`)
	if got := js[bool](p, `return T.events('cleo', 'history').every((e) => e.dropped === 0 && e.entries.every((x) => x.nick === 'Ana' && x.body.endsWith('xxx')));`); !got {
		t.Errorf("Cleo's history = %v", js[any](p, `return T.events('cleo', 'history');`))
	}

	// leave: Cleo leaves; then the owner leaves and Ben owns the room.
	js[bool](p, `await C.cleo.leave(`+jsq(room)+`); return true;`)
	waitEvent(p, "ana", "member_left", `e.nickname === 'Cleo' && e.reason === 'left'`)
	if js[bool](p, `return C.cleo.rooms.size !== 0;`) {
		t.Error("Cleo still holds the room after leaving")
	}
	js[bool](p, `await C.ana.leave(`+jsq(room)+`); return true;`)
	waitEvent(p, "ben", "member_left", `e.nickname === 'Ana'`)
	waitEvent(p, "ben", "owner_changed", `e.owner === C.ben.me.id`)
	if !js[bool](p, `return C.ben.isOwner(`+jsq(room)+`);`) {
		t.Error("Ben is not the owner after Ana left")
	}

	// close.
	js[bool](p, `await C.ben.close(`+jsq(room)+`); return true;`)
	waitEvent(p, "ben", "room_closed", `e.reason === 'owner' && e.byMe === true`)
	if n := js[int](p, `return T.events('ben', 'room_closed').length;`); n != 1 {
		t.Errorf("Ben got %d room_closed events, want 1", n)
	}

	// Create then close, with a second client in it: room_closed reaches
	// the member, not byMe.
	room2 := seatTwo2(t, p)
	js[bool](p, `await C.ana.close(`+jsq(room2)+`); return true;`)
	waitEvent(p, "ben", "room_closed", `e.room === `+jsq(room2)+` && e.reason === 'owner' && e.byMe === false`)
	if js[int](p, `return T.events('ben', 'invalid').length + T.events('ana', 'invalid').length;`) != 0 {
		t.Errorf("a real server's frames were found invalid: %v", js[any](p, `return [...T.events('ana', 'invalid'), ...T.events('ben', 'invalid')];`))
	}

	cp, err := h.tap.decode()
	if err != nil {
		t.Fatal(err)
	}
	assertUnseen(t, cp, []secret{
		{"a message", []byte("Saturday, the ridge trail")},
		{"a message", []byte("Count me in")},
		{"a history entry", []byte(strings.Repeat("x", 200))},
	})
	if !strings.Contains(string(cp.Raw), `"type":"history"`) {
		t.Error("control: the tap saw no history request")
	}
}

// seatTwo2 seats Ana and Ben, already connected, in a new room of Ana's.
func seatTwo2(t *testing.T, p *person) string {
	t.Helper()
	return js[string](p, `
		const room = await C.ana.connect().then(() => C.ana.create());
		const inv = await C.ana.invite(room.id);
		await C.ben.join(inv);
		return room.id;`)
}

// jsq quotes s as a JavaScript string.
func jsq(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestLibErrors shows every way a request fails as a rejected promise
// carrying a ProtocolError with its code: the server's codes, and the
// client's own for what it refuses to send.
func TestLibErrors(t *testing.T) {
	h := newHarness(t, pollMode)
	p := h.libPage("lib")
	room := seatTwo(t, p)

	cases := []struct {
		name string
		expr string
		code string
	}{
		{
			name: "invite by a member who is not the owner",
			expr: `C.ben.invite(` + jsq(room) + `)`,
			code: "forbidden",
		},
		{
			name: "close by a member who is not the owner",
			expr: `C.ben.close(` + jsq(room) + `)`,
			code: "forbidden",
		},
		{
			name: "join with an unknown invite",
			expr: `C.ben.join({ token: 'A'.repeat(43), secret: C.ana.room(` + jsq(room) + `).crypto.inviteSecret() })`,
			code: "invite_invalid",
		},
		{
			name: "join with a damaged key, refused before sending",
			expr: `C.ben.join(location.origin + '/#join=' + 'A'.repeat(43) + '.too-short')`,
			code: "invite_damaged",
		},
		{
			name: "join with no invite in the link",
			expr: `C.ben.join('https://example.com/')`,
			code: "invite_damaged",
		},
		{
			name: "a room this client does not hold",
			expr: `C.ben.send('nosuchroom', 'hi')`,
			code: "not_found",
		},
		{
			name: "a text too long once sealed, refused before sending",
			expr: `C.ana.send(` + jsq(room) + `, 'x'.repeat(C.ana.limits.max_message))`,
			code: "too_large",
		},
		{
			name: "history to someone not in the room",
			expr: `C.ana.sendHistory(` + jsq(room) + `, 'nosuchmember', [{ seq: 1, ts: 1, from: C.ana.me.id, nick: 'Ana', body: 'b' }])`,
			code: "not_found",
		},
		{
			name: "a nickname the server refuses",
			expr: `T.make('bad').connect({ nickname: ' ' })`,
			code: "invalid_nickname",
		},
		{
			name: "connect with neither token nor nickname",
			expr: `T.make('none').connect()`,
			code: "bad_request",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := h.hub.Stats()
			got := js[failure](p, `return await T.fails(`+tc.expr+`);`)
			wantCode(t, tc.expr, got, tc.code)
			if tc.code == "invite_damaged" || tc.code == "too_large" {
				after := h.hub.Stats()
				if after.Messages != before.Messages || len(after.Errors) != len(before.Errors) {
					t.Errorf("the client sent what it refused: stats %+v -> %+v", before.Errors, after.Errors)
				}
			}
		})
	}

	t.Run("session_invalid", func(t *testing.T) {
		got := js[failure](p, `
			T.store('ghost').set('session', { token: 'B'.repeat(43), me: { id: 'm1', nickname: 'Ghost' } });
			const g = T.make('ghost');
			if (!(await g.restore())) return { ok: true, code: 'restore found no session', proto: false };
			return await T.fails(g.connect());`)
		wantCode(t, "connect with a forgotten token", got, "session_invalid")
		waitEvent(p, "ghost", "session_invalid", "")
		if js[bool](p, `return T.store('ghost').get('session') !== null || C.ghost.active;`) {
			t.Error("after session_invalid the client kept the token or kept connecting")
		}
	})

	t.Run("offline", func(t *testing.T) {
		got := js[failure](p, `C.ben.disconnect(); return await T.fails(C.ben.send(`+jsq(room)+`, 'hi'));`)
		wantCode(t, "send while disconnected", got, "stopped")
		got = js[failure](p, `const c = T.make('never'); return await T.fails(c.members('x'));`)
		wantCode(t, "a request of a client never connected", got, "not_found")
	})
}

// TestLibReconnect drops every connection on the wire, in both modes: both
// clients come back by themselves with their token, are still seated, and
// the conversation goes on; a client that stayed away is told how many
// messages it missed; a new Client on the old storage (a reload) resumes
// the session and the room, key included.
func TestLibReconnect(t *testing.T) {
	for _, mode := range []connMode{pollMode, blockingMode} {
		t.Run(mode.String(), func(t *testing.T) {
			testLibReconnect(t, mode)
		})
	}
}

func testLibReconnect(t *testing.T, mode connMode) {
	h := newHarness(t, mode)
	p := h.libPage("lib")
	js[bool](p, `T.make('ana', { backoff: { first: 50, max: 200 } }); T.make('ben', { backoff: { first: 50, max: 200 } }); return true;`)
	room := js[string](p, `
		await C.ana.connect({ nickname: 'Ana' });
		await C.ben.connect({ nickname: 'Ben' });
		const room = await C.ana.create();
		await C.ben.join(await C.ana.invite(room.id));
		return room.id;`)
	h.checkMode()

	h.tap.dropAll()
	for _, name := range []string{"ana", "ben"} {
		waitEvent(p, name, "disconnected", "")
		waitEvent(p, name, "status", `e.state === 'waiting' && e.delay <= 50`)
		waitEvent(p, name, "welcome", `e.resumed === true && e.rooms.length === 1 && e.rooms[0].id === `+jsq(room))
	}
	p.wait("both ready", `C.ana.ready && C.ben.ready`)
	h.checkMode()
	js[bool](p, `await C.ben.send(`+jsq(room)+`, 'back after the drop'); return true;`)
	waitEvent(p, "ana", "message", `e.body === 'back after the drop'`)
	if n := js[int](p, `return T.events('ana', 'member_left').length;`); n != 0 {
		t.Errorf("Ana saw %d member_left: a drop within the grace must go unnoticed", n)
	}

	// Ben stays away while Ana writes twice.
	js[bool](p, `C.ben.disconnect(); return true;`)
	js[bool](p, `await C.ana.send(`+jsq(room)+`, 'one'); await C.ana.send(`+jsq(room)+`, 'two'); return true;`)
	js[bool](p, `await C.ben.connect(); return true;`)
	waitEvent(p, "ben", "missed", `e.room === `+jsq(room)+` && e.count === 2`)

	// A reload: a new Client on Ben's storage.
	code := js[string](p, `return await C.ben.room(`+jsq(room)+`).crypto.safetyCode();`)
	js[bool](p, `C.ben.disconnect(); const b2 = T.make('ben2', { store: 'ben' }); if (!(await b2.restore())) throw new Error('nothing restored'); await b2.connect(); return true;`)
	waitEvent(p, "ben2", "welcome", `e.resumed === true && e.rooms.length === 1`)
	if got := js[string](p, `return await C.ben2.room(`+jsq(room)+`).crypto.safetyCode();`); got != code {
		t.Errorf("safety code after the reload = %q, want %q", got, code)
	}
	js[bool](p, `await C.ben2.send(`+jsq(room)+`, 'after a reload'); return true;`)
	waitEvent(p, "ana", "message", `e.body === 'after a reload' && e.nickname === 'Ben'`)

	// The room closes while Ben is away: on resuming he is told it is gone.
	js[bool](p, `C.ben2.disconnect(); await C.ana.close(`+jsq(room)+`); await C.ben2.connect(); return true;`)
	waitEvent(p, "ben2", "room_gone", `e.room === `+jsq(room))
	if js[int](p, `return C.ben2.rooms.size;`) != 0 {
		t.Error("Ben still holds a room the server no longer seats him in")
	}
}

// TestLibBackoff shows the waits between tries: against a port where
// nobody listens they grow from backoff.first, doubling, to backoff.max,
// each between half and all of its ceiling (the jitter); once the server
// accepts the client again the next drop starts over from the first.
func TestLibBackoff(t *testing.T) {
	h := newHarness(t, pollMode)
	p := h.libPage("lib")

	// backoffDelay at the ends of the jitter.
	table := js[[][]float64](p, `return [0, 1, 2, 3, 4, 10].map((a) => [lib.backoffDelay(a, 100, 1000, 0), lib.backoffDelay(a, 100, 1000, 0.999999)]);`)
	want := [][]float64{{50, 100}, {100, 200}, {200, 400}, {400, 800}, {500, 1000}, {500, 1000}}
	for i := range want {
		if table[i][0] != want[i][0] || table[i][1] != want[i][1] {
			t.Errorf("backoffDelay attempt %d: %v, want %v", i, table[i], want[i])
		}
	}

	// A dead port: a listener opened and closed at once.
	ln := httptest.NewServer(http.NotFoundHandler())
	dead := "ws://" + ln.Listener.Addr().String() + "/chat/"
	ln.Close()
	res := js[struct {
		Delays  []float64 `json:"delays"`
		Offline failure   `json:"offline"`
	}](p, `
		const c = T.make('dead', { url: `+jsq(dead)+`, backoff: { first: 40, max: 160 } });
		c.connect({ nickname: 'Nobody' }).catch(() => {});
		const delays = await new Promise((resolve) => {
			const ds = [];
			const off = c.on('status', (s) => {
				if (s.state !== 'waiting') return;
				ds.push(s.delay);
				if (ds.length === 6) { off(); resolve(ds); }
			});
		});
		// A request between two tries fails at once, offline.
		const offline = await T.fails(c.create());
		c.disconnect();
		return { delays, offline };`)
	delays := res.Delays
	wantCode(t, "a request while waiting to reconnect", res.Offline, "offline")
	ceilings := []float64{40, 80, 160, 160, 160, 160}
	for i, d := range delays {
		if d < ceilings[i]/2 || d > ceilings[i] {
			t.Errorf("wait %d = %v ms, want between %v and %v", i+1, d, ceilings[i]/2, ceilings[i])
		}
	}
	if len(delays) != len(ceilings) {
		t.Fatalf("waits = %v, want %d", delays, len(ceilings))
	}

	// Accepted again, the client starts over: every drop is followed by a
	// first wait, however many came before.
	js[bool](p, `const c = T.make('ana', { backoff: { first: 40, max: 5000 } }); await c.connect({ nickname: 'Ana' }); return true;`)
	for i := range 4 {
		h.tap.dropAll()
		p.wait(fmt.Sprintf("welcome %d", i+2), fmt.Sprintf(`T.events('ana', 'welcome').length === %d`, i+2))
	}
	waits := js[[]float64](p, `return T.events('ana', 'status').filter((e) => e.state === 'waiting').map((e) => e.delay);`)
	for i, d := range waits {
		if d > 40 {
			t.Errorf("wait %d after a drop = %v ms, want at most the first (40): the backoff did not start over", i+1, d)
		}
	}
}

// fakeServer is a hostile epchat server: it identifies the client and
// seats it in room "r1" as a real one would, then sends whatever the test
// pushes. It stands in for a Hub because a real one never sends malformed
// frames.
type fakeServer struct {
	t   *testing.T
	URL string
	out chan string
	mu  sync.Mutex
	got []map[string]any
}

func newFakeServer(t *testing.T) *fakeServer {
	fs := &fakeServer{t: t, out: make(chan string, 256)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, _, err := ws.UpgradeHTTP(r, w)
		if err != nil {
			return
		}
		defer conn.Close()
		done := make(chan struct{})
		defer close(done)
		go func() {
			for {
				select {
				case f := <-fs.out:
					if strings.HasPrefix(f, "binary:") {
						wsutil.WriteServerBinary(conn, []byte(f))
						continue
					}
					if wsutil.WriteServerText(conn, []byte(f)) != nil {
						return
					}
				case <-done:
					return
				}
			}
		}()
		for {
			data, err := wsutil.ReadClientText(conn)
			if err != nil {
				return
			}
			var req map[string]any
			if json.Unmarshal(data, &req) != nil {
				continue
			}
			fs.mu.Lock()
			fs.got = append(fs.got, req)
			fs.mu.Unlock()
			id, _ := req["id"].(string)
			switch req["type"] {
			case "hello":
				fs.send(map[string]any{"type": "welcome", "id": id, "you": map[string]any{"id": "me", "nickname": "Ana"}, "token": strings.Repeat("T", 43), "rooms": []any{}, "limits": map[string]any{"max_message": 16384, "max_members": 10}})
			case "create":
				fs.send(map[string]any{"type": "joined", "id": id, "room": "r1", "owner": "me", "seq": 0, "members": []any{map[string]any{"id": "me", "nickname": "Ana"}}})
			case "members":
				fs.send(map[string]any{"type": "members", "id": id, "room": 5})
			case "invite":
				fs.send(map[string]any{"type": "error", "id": id, "code": ""})
			case "send":
				fs.send(map[string]any{"type": "sent", "id": id, "room": "r1", "seq": "one"})
			case "leave":
				// No reply at all.
			}
		}
	}))
	t.Cleanup(srv.Close)
	fs.URL = "ws://" + srv.Listener.Addr().String() + "/"
	return fs
}

// send queues a frame: a string as is, anything else as its JSON.
func (fs *fakeServer) send(v any) {
	s, ok := v.(string)
	if !ok {
		b, err := json.Marshal(v)
		if err != nil {
			fs.t.Fatal(err)
		}
		s = string(b)
	}
	fs.out <- s
}

// seal encrypts value as the aes-gcm-v1 scheme does, with the room key
// keyText and additional data ad: a payload as a member (or the owner)
// would make it.
func seal(t *testing.T, keyText, ad string, value any) string {
	t.Helper()
	key, err := base64.RawURLEncoding.DecodeString(keyText)
	if err != nil {
		t.Fatal(err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	iv := make([]byte, gcm.NonceSize())
	rand.Read(iv)
	plain, err := json.Marshal(value)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(gcm.Seal(iv, iv, plain, []byte(ad)))
}

// TestLibUntrustedInput feeds the library everything a hostile server (or
// a member who holds the key) can send: frames that are not JSON objects,
// events with fields missing or of the wrong type, ciphertext that does
// not open, history entries that are malformed (a time of 1e300 among
// them), malformed replies. None of it throws out of the library (the
// page's error and unhandledrejection watch checks it at the end), each
// malformed event is dropped with an invalid event, and a good message
// after all of it is still delivered.
func TestLibUntrustedInput(t *testing.T) {
	h := newHarness(t, pollMode)
	p := h.libPage("lib")
	fs := newFakeServer(t)
	key := js[string](p, `
		const c = T.make('ana', { url: `+jsq(fs.URL)+`, requestTimeout: 300 });
		await c.connect({ nickname: 'Ana' });
		const room = await c.create();
		return room.crypto.inviteSecret();`)

	// Malformed replies reject their request with bad_reply; no reply
	// at all, with timeout.
	for _, expr := range []string{`C.ana.members('r1')`, `C.ana.invite('r1')`, `C.ana.send('r1', 'hi')`} {
		wantCode(t, expr, js[failure](p, `return await T.fails(`+expr+`);`), "bad_reply")
	}
	wantCode(t, "a request the server never answers", js[failure](p, `return await T.fails(C.ana.leave('r1'));`), "timeout")

	good := func(from string, seq int, body string) map[string]any {
		return map[string]any{"type": "message", "room": "r1", "from": from, "seq": seq, "ts": 1764000000000,
			"text": seal(t, key, "epchat/v1 message r1 "+from, map[string]any{"v": 1, "body": body})}
	}
	junk := []any{
		"not json",
		"[1,2,3]",
		"null",
		`"a string"`,
		`{"type":5}`,
		`{"no":"type"}`,
		"binary: a binary frame",
		map[string]any{"type": "ok", "id": "999"},
		map[string]any{"type": "error"},
		map[string]any{"type": "message", "room": "r1"},
		map[string]any{"type": "message", "room": "r1", "from": map[string]any{"x": 1}, "seq": 1, "text": "x"},
		map[string]any{"type": "message", "room": "r1", "from": "ben", "seq": -1, "text": "x"},
		map[string]any{"type": "message", "room": "r1", "from": "ben", "seq": 1e300, "text": "x"},
		map[string]any{"type": "message", "room": "r1", "from": "ben", "seq": 2, "text": "not base64 !!"},
		map[string]any{"type": "message", "room": "r1", "from": "ben", "seq": 3, "text": strings.Repeat("A", 100)},
		// Sealed for another sender: the additional data does not match.
		map[string]any{"type": "message", "room": "r1", "from": "ben", "seq": 4, "text": seal(t, key, "epchat/v1 message r1 eve", map[string]any{"v": 1, "body": "relabelled"})},
		// Opens, but is not a message.
		map[string]any{"type": "message", "room": "r1", "from": "ben", "seq": 5, "text": seal(t, key, "epchat/v1 message r1 ben", []int{1})},
		map[string]any{"type": "message", "room": "r1", "from": "ben", "seq": 6, "ts": "yesterday", "text": seal(t, key, "epchat/v1 message r1 ben", map[string]any{"v": 1, "body": 42})},
		map[string]any{"type": "message", "room": "nosuchroom", "from": "ben", "seq": 7, "text": "x"},
		map[string]any{"type": "history", "room": "r1", "from": "ben"},
		map[string]any{"type": "history", "room": "r1", "from": "ben", "data": "garbage"},
		map[string]any{"type": "history", "room": "r1", "from": "ben", "data": seal(t, key, "epchat/v1 history r1 ben me", map[string]any{"v": 1, "msgs": "all of them"})},
		map[string]any{"type": "history", "room": "r1", "from": "ben", "data": seal(t, key, "epchat/v1 history r1 ben me", map[string]any{"v": 1, "msgs": []any{
			map[string]any{"seq": 1, "ts": 1e300, "from": "ben", "nick": "Ben", "body": "from the far future"},
			map[string]any{"seq": "2", "ts": 1, "from": "ben", "nick": "Ben", "body": "seq as text"},
			map[string]any{"seq": 3, "ts": 1, "from": "ben", "nick": nil, "body": "no nick"},
			nil,
			"an entry",
			// The sender claims the entry checked out: a scheme that checks
			// no author cannot say so, and the library does not repeat it.
			map[string]any{"seq": 4, "ts": 1764000000000, "from": "ben", "nick": "Ben" + strings.Repeat("n", 5000), "body": "the one good entry", "verified": true, "mid": "ben.1.1", "envelope": "e2e1.forged"},
		}})},
		map[string]any{"type": "member_joined", "room": "r1"},
		map[string]any{"type": "member_joined", "room": "r1", "member": "ben"},
		map[string]any{"type": "member_joined", "room": "r1", "member": map[string]any{"id": "ben", "nickname": "Ben" + strings.Repeat("x", 10000)}},
		map[string]any{"type": "member_left", "room": "r1", "member": 7},
		map[string]any{"type": "owner_changed", "room": "r1", "owner": nil},
		map[string]any{"type": "room_locked", "room": "r1", "locked": "yes"},
		map[string]any{"type": "room_closed", "room": 1},
		map[string]any{"type": "no_such_event", "room": "r1"},
		map[string]any{"type": "welcome", "you": 1},
	}
	for _, f := range junk {
		fs.send(f)
	}
	fs.send(good("ben", 8, "still here"))
	waitEvent(p, "ana", "message", `e.body === 'still here' && e.seq === 8 && e.nickname.startsWith('Ben')`)

	if n := js[int](p, `return T.events('ana', 'message').length;`); n != 1 {
		t.Errorf("%d messages delivered, want only the good one: %v", n, js[any](p, `return T.events('ana', 'message');`))
	}
	if got := js[[]float64](p, `return T.events('ana', 'undecryptable').map((e) => e.seq ?? 0);`); len(got) < 5 {
		t.Errorf("undecryptable for seqs %v, want 2, 3, 4, 5, 6 and the histories", got)
	}
	hist := js[[]map[string]any](p, `return T.events('ana', 'history');`)
	if len(hist) != 1 || len(hist[0]["entries"].([]any)) != 1 || hist[0]["dropped"] != float64(5) {
		t.Errorf("history events = %v, want one with the good entry and 5 dropped", hist)
	} else if e := hist[0]["entries"].([]any)[0].(map[string]any); e["body"] != "the one good entry" || len(e["nick"].(string)) != 64 {
		t.Errorf("history entry = %v, want the good one with its nickname cut to 64", e)
	} else if e["verified"] != nil || e["mid"] != nil || e["envelope"] != nil {
		t.Errorf("history entry = %v: verified, mid and envelope repeated from a payload no scheme checked", e)
	}
	if n := js[int](p, `return C.ana.room('r1').members.find((m) => m.id === 'ben')?.nickname.length ?? -1;`); n != 64 {
		t.Errorf("a 10 003-character nickname is kept as %d characters, want 64", n)
	}
	if n := js[int](p, `return T.events('ana', 'invalid').length;`); n < 15 {
		t.Errorf("%d invalid events, want one for each malformed frame: %v", n, js[any](p, `return T.events('ana', 'invalid');`))
	}
	if !js[bool](p, `return C.ana.room('r1').locked === false && C.ana.room('r1').owner === 'me';`) {
		t.Error("a malformed event changed the room")
	}
}

// requireServerHas fails the test at once when the server answered a
// request with unknown_type: the Hub has kick, lock and end_session, so
// that answer is a regression, not something to judge further.
func requireServerHas(t *testing.T, got failure, what, _ string) {
	t.Helper()
	if !got.OK && got.Code == "unknown_type" {
		t.Fatalf("the server does not know %s (unknown_type)", what)
	}
}

// TestLibKick: the owner removes a member. The member's client is told
// (room_left, reason kicked) and lets go of the room; the others see
// member_left with reason kicked; an invite made before the kick no
// longer works, a new one readmits. Only the owner may kick, and not
// themself.
func TestLibKick(t *testing.T) {
	h := newHarness(t, pollMode)
	p := h.libPage("lib")
	room := seatTwo(t, p)
	r := jsq(room)
	js[bool](p, `const cleo = T.make('cleo'); await cleo.connect({ nickname: 'Cleo' }); await cleo.join(await C.ana.invite(`+r+`)); T.early = await C.ana.invite(`+r+`); return true;`)
	waitEvent(p, "ben", "member_joined", `e.member.nickname === 'Cleo'`)

	got := js[failure](p, `return await T.fails(C.ana.kick(`+r+`, C.ben.me.id));`)
	requireServerHas(t, got, "kick", "moderation")
	if !got.OK {
		t.Fatalf("kick: %+v", got)
	}
	waitEvent(p, "ben", "room_left", `e.room === `+r+` && e.reason === 'kicked'`)
	waitEvent(p, "ana", "member_left", `e.nickname === 'Ben' && e.reason === 'kicked'`)
	waitEvent(p, "cleo", "member_left", `e.nickname === 'Ben' && e.reason === 'kicked'`)
	if js[bool](p, `return C.ben.rooms.has(`+r+`) || C.ana.room(`+r+`).members.some((m) => m.nickname === 'Ben');`) {
		t.Error("Ben is still in the room, in his client or Ana's")
	}
	wantCode(t, "Ben sends after the kick", js[failure](p, `return await T.fails(C.ben.send(`+r+`, 'still here?'));`), "not_found")
	wantCode(t, "Cleo, not the owner, kicks", js[failure](p, `return await T.fails(C.cleo.kick(`+r+`, C.ana.me.id));`), "forbidden")
	wantCode(t, "Ana kicks herself", js[failure](p, `return await T.fails(C.ana.kick(`+r+`, C.ana.me.id));`), "not_found")
	wantCode(t, "Ben uses an invite made before the kick", js[failure](p, `return await T.fails(C.ben.join(T.early));`), "invite_invalid")
	js[bool](p, `await C.ben.join(await C.ana.invite(`+r+`)); return true;`)
	waitEvent(p, "ana", "member_joined", `e.member.nickname === 'Ben'`)
}

// TestLibLock: a locked room refuses invites and joins with room_locked,
// an invite made before the lock is not spent by a refused join and works
// after unlock; every member is told both ways, and the room's locked
// state is in members.
func TestLibLock(t *testing.T) {
	h := newHarness(t, pollMode)
	p := h.libPage("lib")
	room := seatTwo(t, p)
	r := jsq(room)
	js[bool](p, `const cleo = T.make('cleo'); await cleo.connect({ nickname: 'Cleo' }); T.early = await C.ana.invite(`+r+`); return true;`)

	got := js[failure](p, `return await T.fails(C.ana.lock(`+r+`));`)
	requireServerHas(t, got, "lock", "moderation")
	if !got.OK {
		t.Fatalf("lock: %+v", got)
	}
	for _, name := range []string{"ana", "ben"} {
		waitEvent(p, name, "room_locked", `e.room === `+r+` && e.locked === true`)
	}
	if !js[bool](p, `return (await C.ben.members(`+r+`)).locked === true;`) {
		t.Error("members does not say the room is locked")
	}
	wantCode(t, "invite while locked", js[failure](p, `return await T.fails(C.ana.invite(`+r+`));`), "room_locked")
	wantCode(t, "join while locked", js[failure](p, `return await T.fails(C.cleo.join(T.early));`), "room_locked")
	wantCode(t, "Ben, not the owner, unlocks", js[failure](p, `return await T.fails(C.ben.unlock(`+r+`));`), "forbidden")

	js[bool](p, `await C.ana.unlock(`+r+`); return true;`)
	for _, name := range []string{"ana", "ben"} {
		waitEvent(p, name, "room_locked", `e.room === `+r+` && e.locked === false`)
	}
	js[bool](p, `await C.cleo.join(T.early); return true;`)
	waitEvent(p, "ben", "member_joined", `e.member.nickname === 'Cleo'`)
	if js[bool](p, `return C.cleo.room(`+r+`).locked;`) {
		t.Error("Cleo's joined says the room is locked")
	}
}

// TestLibEndSession: end_session leaves every room (the others see
// member_left, reason left), tells every client of the session, this one
// and another "tab" on the same token, and forgets the token: a later
// hello with it gets session_invalid.
func TestLibEndSession(t *testing.T) {
	h := newHarness(t, pollMode)
	p := h.libPage("lib")
	room := seatTwo(t, p)
	r := jsq(room)
	token := js[string](p, `return C.ben.token;`)
	// A second tab of Ben's session: a client restored from a copy of his storage.
	js[bool](p, `T.store('tab2').set('session', T.store('ben').get('session')); T.store('tab2').set('rooms', T.store('ben').get('rooms'));
		const tab = T.make('tab2'); await tab.restore(); await tab.connect(); return true;`)

	got := js[failure](p, `return await T.fails(C.ben.endSession());`)
	requireServerHas(t, got, "end_session", "sessions")
	if !got.OK {
		t.Fatalf("end_session: %+v", got)
	}
	for _, name := range []string{"ben", "tab2"} {
		waitEvent(p, name, "session_ended", "")
		if js[bool](p, `return C[`+jsq(name)+`].token !== null || C[`+jsq(name)+`].active || C[`+jsq(name)+`].rooms.size > 0 || T.store(`+jsq(name)+`).get('session') !== null;`) {
			t.Errorf("%s kept the session, its rooms or its connection after session_ended", name)
		}
	}
	if n := js[int](p, `return T.events('ben', 'session_ended').length;`); n != 1 {
		t.Errorf("Ben got %d session_ended events, want 1", n)
	}
	waitEvent(p, "ana", "member_left", `e.room === `+r+` && e.nickname === 'Ben' && e.reason === 'left'`)
	got = js[failure](p, `T.store('late').set('session', { token: `+jsq(token)+`, me: null }); const c = T.make('late'); await c.restore(); return await T.fails(c.connect());`)
	wantCode(t, "hello with the ended session's token", got, "session_invalid")
}

// TestLibSchemeSeam plugs a scheme of the test's own into the library, as
// the issue on authenticated rooms will: it wraps aesGcmScheme, says it
// verified each sender, and moves to a new epoch on each leave. The client
// calls its hooks with what each payload is (kind, room, sender,
// recipient), reports verified as the scheme says, tells it every
// membership change, and emits epoch when the scheme's epoch moves.
func TestLibSchemeSeam(t *testing.T) {
	h := newHarness(t, pollMode)
	p := h.libPage("lib")
	js[bool](p, `
		T.calls = [];
		const base = lib.aesGcmScheme;
		const wrap = (rc) => ({
			...rc,
			scheme: 'test-v1',
			epoch: 0,
			async encrypt(v, ctx) { T.calls.push(['encrypt', ctx.kind, ctx.to ?? '']); return rc.encrypt(v, ctx); },
			async decrypt(text, ctx) { T.calls.push(['decrypt', ctx.kind, ctx.to ?? '']); const o = await rc.decrypt(text, ctx); return { ...o, verified: true }; },
			membershipChanged(ch) { T.calls.push(['membership', ch.kind, ch.reason ?? '']); if (ch.kind === 'left') this.epoch++; },
		});
		T.scheme = {
			name: 'test-v1',
			isSecret: base.isSecret,
			create: async () => wrap(await base.create()),
			fromInvite: async (s) => wrap(await base.fromInvite(s)),
			restore: async (s) => wrap(await base.restore(s)),
		};
		return true;`)
	room := js[string](p, `
		const ana = T.make('ana', { scheme: T.scheme }), ben = T.make('ben', { scheme: T.scheme }), cleo = T.make('cleo', { scheme: T.scheme });
		await ana.connect({ nickname: 'Ana' }); await ben.connect({ nickname: 'Ben' }); await cleo.connect({ nickname: 'Cleo' });
		const room = await ana.create();
		await ben.join(await ana.invite(room.id));
		await cleo.join(await ana.invite(room.id));
		return room.id;`)
	r := jsq(room)
	js[bool](p, `await C.ben.send(`+r+`, 'signed, as it were'); await C.ana.sendHistory(`+r+`, C.cleo.me.id, [{ seq: 1, ts: Date.now(), from: C.ben.me.id, nick: 'Ben', body: 'earlier' }]); return true;`)
	waitEvent(p, "ana", "message", `e.body === 'signed, as it were' && e.verified === true`)
	waitEvent(p, "cleo", "history", `e.verified === true && e.entries.length === 1`)
	js[bool](p, `await C.cleo.leave(`+r+`); return true;`)
	for _, name := range []string{"ana", "ben"} {
		waitEvent(p, name, "epoch", `e.room === `+r+` && e.epoch === 1`)
	}
	calls := js[[][]string](p, `return T.calls;`)
	want := map[string]bool{
		"encrypt message ":     false,
		"decrypt message ":     false,
		"membership joined ":   false,
		"membership members ":  false,
		"membership left left": false,
	}
	for _, c := range calls {
		k := strings.Join(c, " ")
		if _, ok := want[k]; ok {
			want[k] = true
		}
		if c[1] == "history" && c[2] == "" {
			t.Errorf("%s of a history payload without its recipient", c[0])
		}
	}
	for k, seen := range want {
		if !seen {
			t.Errorf("the scheme was never called for %q; calls: %v", k, calls)
		}
	}
	if got := js[string](p, `return C.ana.room(`+r+`).crypto.scheme;`); got != "test-v1" {
		t.Errorf("the room's scheme = %q, want the one given", got)
	}
}

// TestLibShutdown: when the server shuts down, each client is told its
// room closed (reason shutdown) and the connection went (1001), and goes
// on trying to reconnect.
func TestLibShutdown(t *testing.T) {
	h := newHarness(t, pollMode)
	p := h.libPage("lib")
	room := seatTwo(t, p)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.hub.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	for _, name := range []string{"ana", "ben"} {
		waitEvent(p, name, "room_closed", `e.room === `+jsq(room)+` && e.reason === 'shutdown' && e.byMe === false`)
		waitEvent(p, name, "disconnected", `e.code === 1001 && e.wasOpen === true`)
		waitEvent(p, name, "status", `e.state === 'waiting'`)
	}
	if !js[bool](p, `return C.ana.active && C.ana.rooms.size === 0 && C.ana.token !== null;`) {
		t.Error("after a shutdown Ana's client stopped, kept the room or dropped the session")
	}
}

// TestLibCheckInvite: checkInvite tells a live invite from a used one
// without spending it, with no session (on a short connection of its
// own, closed once answered) and with one; a damaged link is refused
// before anything is sent.
func TestLibCheckInvite(t *testing.T) {
	h := newHarness(t, pollMode)
	p := h.libPage("lib")
	room := seatTwo(t, p)
	open := h.hub.Stats().Connections

	got := js[map[string]any](p, `
		const inv = await C.ana.invite(`+jsq(room)+`);
		window.inv = inv;
		const dora = T.make('dora'); // no session
		const r = await dora.checkInvite(C.ana.inviteLink(location.href, inv));
		return { ...r, ttl: r.expires - r.now, matches: r.expires === inv.expires };`)
	if got["locked"] != false || got["full"] != false || got["matches"] != true || got["ttl"].(float64) < 290e3 {
		t.Errorf("checkInvite of a live link with no session = %v", got)
	}
	deadline := time.Now().Add(5 * time.Second)
	for h.hub.Stats().Connections != open && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := h.hub.Stats().Connections; n != open {
		t.Errorf("%d connections after the check, want %d: the short one stayed open", n, open)
	}

	// Not spent: Dora joins with it; then it is used, as Ben's page
	// (with a session) and Dora's are told.
	js[bool](p, `await C.dora.connect({ nickname: 'Dora' }); await C.dora.join(window.inv); return true;`)
	for _, who := range []string{"ben", "dora"} {
		if code := js[string](p, `try { await C.`+who+`.checkInvite(window.inv); return 'resolved'; } catch (e) { return e.code; }`); code != "invite_invalid" {
			t.Errorf("%s's checkInvite of a used invite: %s, want invite_invalid", who, code)
		}
	}
	if code := js[string](p, `try { await T.make('eve').checkInvite('#join=short'); return 'resolved'; } catch (e) { return e.code; }`); code != "invite_damaged" {
		t.Errorf("checkInvite of a damaged link: %s, want invite_damaged", code)
	}
}

// TestLibSafetyWords: the word list is 256 distinct words, told apart by
// their first three letters, and safetyWords reads a code's value modulo
// 2^64 a byte a word, so that codes that differ give different words.
func TestLibSafetyWords(t *testing.T) {
	h := newHarness(t, pollMode)
	p := h.libPage("lib")
	got := js[map[string]any](p, `
		const W = lib.SAFETY_WORDS, w = lib.safetyWords;
		return {
			count: W.length,
			distinct: new Set(W).size,
			prefixes: new Set(W.map((x) => x.slice(0, 3))).size,
			plain: W.every((x) => /^[a-z]{3,7}$/.test(x)),
			zero: w('0000 0000 0000 0000 0000').join(' '),
			max: w('1844 6744 0737 0955 1615').join(' '),   // 2^64 - 1
			wrap: w('1844 6744 0737 0955 1616').join(' '),  // 2^64
			small: w('0000 0000 0000 0000 0258').join(' '), // 0x0102
			last: w('9999 9999 9999 9999 9999').join(' '),
			near: w('9999 9999 9999 9999 9998').join(' '),
			none: w('').length,
		};`)
	if got["count"] != 256.0 || got["distinct"] != 256.0 || got["prefixes"] != 256.0 || got["plain"] != true {
		t.Errorf("the list: %v", got)
	}
	want := map[string]string{
		"zero":  "acorn acorn acorn acorn acorn acorn acorn acorn",
		"max":   "zodiac zodiac zodiac zodiac zodiac zodiac zodiac zodiac",
		"wrap":  "acorn acorn acorn acorn acorn acorn acorn acorn",
		"small": "acorn acorn acorn acorn acorn acorn album alley",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("safetyWords(%s) = %q, want %q", k, got[k], w)
		}
	}
	if got["last"] == got["near"] || len(strings.Fields(got["last"].(string))) != 8 {
		t.Errorf("codes one apart: %q and %q", got["last"], got["near"])
	}
	if got["none"] != 0.0 {
		t.Errorf("a code with no digits gives %v words", got["none"])
	}
}

// TestLibBase64 checks base64url both ways against RFC 4648's vectors (no
// padding, URL alphabet), with the browser's own Uint8Array.toBase64 and
// with the fallback that older browsers take (the module loaded again with
// the native functions removed).
func TestLibBase64(t *testing.T) {
	h := newHarness(t, pollMode)
	p := h.libPage("lib")
	got := js[map[string]any](p, `
		const vectors = [['', ''], ['f', 'Zg'], ['fo', 'Zm8'], ['foo', 'Zm9v'], ['foob', 'Zm9vYg'],
			['fooba', 'Zm9vYmE'], ['foobar', 'Zm9vYmFy']];
		const check = (c) => {
			const bad = [];
			for (const [plain, want] of vectors) {
				const b = new TextEncoder().encode(plain);
				if (c.b64urlEncode(b) !== want) bad.push('encode ' + plain + ': ' + c.b64urlEncode(b));
				if (new TextDecoder().decode(c.b64urlDecode(want)) !== plain) bad.push('decode ' + want);
			}
			const url = Uint8Array.of(0xfb, 0xff, 0xbf);
			if (c.b64urlEncode(url) !== '-_-_') bad.push('url alphabet: ' + c.b64urlEncode(url));
			const big = new Uint8Array(100000);
			for (let i = 0; i < big.length; i++) big[i] = (i * 131) & 255;
			const back = c.b64urlDecode(c.b64urlEncode(big));
			if (back.length !== big.length || back.some((v, i) => v !== big[i])) bad.push('round trip');
			for (const x of ['a', 'Zm9v=', 'Zm+v', 'Zm/v', 'Zm 9v', 5]) {
				try { c.b64urlDecode(x); bad.push('accepted ' + x); } catch {}
			}
			return bad;
		};
		const hasNative = typeof Uint8Array.prototype.toBase64 === 'function';
		const native = check(await import('/lib/crypto.js'));
		const to = Uint8Array.prototype.toBase64, from = Uint8Array.fromBase64;
		delete Uint8Array.prototype.toBase64;
		delete Uint8Array.fromBase64;
		let fallback;
		try { fallback = check(await import('/lib/crypto.js?fallback')); } finally {
			Uint8Array.prototype.toBase64 = to;
			Uint8Array.fromBase64 = from;
		}
		return { hasNative, native, fallback };`)
	if got["hasNative"] != true {
		t.Errorf("this Chromium has no Uint8Array.prototype.toBase64: the native path is untested")
	}
	for _, k := range []string{"native", "fallback"} {
		if bad, _ := got[k].([]any); len(bad) != 0 || got[k] == nil {
			t.Errorf("%s: %v", k, got[k])
		}
	}
}

// TestLibStorageFull: when the browser's storage refuses a write (full),
// the older value is removed, not kept: a reload that restored it would
// seal with keys already used since.
func TestLibStorageFull(t *testing.T) {
	h := newHarness(t, pollMode)
	p := h.libPage("lib")
	got := js[map[string]any](p, `
		const m = new Map();
		let full = false;
		const store = {
			getItem: (k) => (m.has(k) ? m.get(k) : null),
			setItem: (k, v) => { if (full) throw new DOMException('full', 'QuotaExceededError'); m.set(k, v); },
			removeItem: (k) => m.delete(k),
		};
		const s = lib.webStorage(store);
		s.set('rooms', { gen: 1 });
		const before = s.get('rooms');
		full = true;
		s.set('rooms', { gen: 2 });
		return { before, after: s.get('rooms'), keys: [...m.keys()] };`)
	if b, _ := got["before"].(map[string]any); b["gen"] != 1.0 {
		t.Fatalf("the first write was not kept: %v", got)
	}
	if got["after"] != nil || len(got["keys"].([]any)) != 0 {
		t.Errorf("after a refused write the storage still holds %v (keys %v), want nothing", got["after"], got["keys"])
	}
}

// TestLibSaveWhenHidden: a receiver saves its room state within a second
// of a message, not at once; a page that is hidden (a phone may discard a
// hidden tab without a pagehide) saves at once what waited.
func TestLibSaveWhenHidden(t *testing.T) {
	h := newHarness(t, pollMode)
	p := h.libPage("lib")
	room := seatTwo(t, p)
	got := js[map[string]any](p, `
		const room = `+jsq(room)+`;
		const saved = () => T.store('ben').get('rooms')?.[room]?.seq ?? null;
		const shown = new Promise((f) => C.ben.on('message', (e) => f(e)));
		const sent = await C.ana.send(room, 'one');
		await shown;
		const waiting = saved();
		Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
		try {
			document.dispatchEvent(new Event('visibilitychange'));
		} finally {
			delete document.visibilityState;
		}
		return { seq: sent.seq, waiting, hidden: saved() };`)
	if got["waiting"] == got["seq"] {
		t.Errorf("the receiver saved at once (seq %v): saveSoon did not wait", got["seq"])
	}
	if got["hidden"] != got["seq"] {
		t.Errorf("after the page was hidden the saved seq is %v, want %v", got["hidden"], got["seq"])
	}
}
