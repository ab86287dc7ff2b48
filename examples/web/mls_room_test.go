package web_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

// These are the Chromium tests of client/mls/room.js, the MLS core of the
// authenticated rooms (docs/E2E.md): several members side by side in one
// page, the test playing the server, which orders every frame by seq. The
// module is served from the source tree with the vendored bundle: it is
// not in client.FS() yet.

// mlsHelper loads the module as R and gives the page a relay: send(name,
// frame) numbers a frame with the room's next seq, as the server would.
const mlsHelper = `
	const R = await import('/client/mls/room.js');
	let seq = 0;
	const send = (from, frame) => ({ from, frame, seq: ++seq });
	const code = async (p) => { try { await p; return 'ok'; } catch (e) { return e instanceof R.MlsError ? e.code : 'THREW ' + e; } };
	// seat makes ana's room and admits the others through invites, each
	// commit applied by everyone in seq order.
	const seat = async (...names) => {
		const m = { ana: await R.MlsRoom.create({ room: 'r1', me: 'mana', nick: 'Ana' }) };
		for (const name of names) {
			const p = await R.PendingJoin.prepare({ room: 'r1', me: 'm' + name, nick: name, secret: 'secret-' + name });
			const { commit, welcome } = await m.ana.admit(p.frame, 'm' + name, 'secret-' + name);
			for (const r of Object.values(m)) await r.apply(commit);
			m[name] = await p.join(welcome);
		}
		return m;
	};
	const codes = async (m) => Promise.all(Object.values(m).map((r) => r.safetyCode()));
`

// mlsPage serves the client's source tree and opens a blank page on it.
func mlsPage(t *testing.T) *person {
	t.Helper()
	h := newHarness(t, pollMode)
	mux := http.NewServeMux()
	mux.Handle("/client/", http.StripPrefix("/client/", http.FileServer(http.Dir("../../client"))))
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, "<!doctype html><meta charset=utf-8><title>mls room</title>")
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	p := h.person("members")
	p.open(srv.URL + "/")
	p.wait("the page", `document.readyState === 'complete'`)
	return p
}

func runMLSCases(t *testing.T, body string) {
	t.Helper()
	p := mlsPage(t)
	raw := eval[[][]string](p, `(async () => { try {`+mlsHelper+body+`} catch (e) { return [['threw', String(e && e.stack || e), '']]; } })()`)
	cases := make([]envCase, 0, len(raw))
	for _, r := range raw {
		if len(r) != 3 {
			t.Fatalf("bad case %v", r)
		}
		cases = append(cases, envCase{r[0], r[1], r[2]})
	}
	checkCases(t, cases)
}

// TestMLSRoomKickRotation: an ex-member (kicked) cannot read what is sent
// after the commit that removes them; the others can, and their safety
// code changes, the same for each.
func TestMLSRoomKickRotation(t *testing.T) {
	runMLSCases(t, `
		const m = await seat('ben', 'cal');
		const got = [];
		const before = await codes(m);
		got.push(['one safety code for the three', String(new Set(before).size), '1']);
		got.push(['it reads as five groups of four digits', String(/^\d{4}( \d{4}){4}$/.test(before[0])), 'true']);
		const hi = send('mana', await m.ana.seal('hi all', 0));
		for (const r of [m.ben, m.cal]) {
			const o = await r.open(hi.frame, hi);
			got.push([r.me + ' reads ana', o.envelope.body + '/' + o.placement.status, 'hi all/ok']);
		}
		// ana kicks cal: she commits the Remove first, everyone applies it in seq order.
		const rm = send('mana', await m.ana.remove('mcal'));
		got.push(['ana applies her commit', await m.ana.apply(rm.frame), 'applied']);
		got.push(['ben applies it', await m.ben.apply(rm.frame), 'applied']);
		got.push(['cal learns she is out', await m.cal.apply(rm.frame).catch((e) => e.code), 'removed']);
		const after = await codes({ ana: m.ana, ben: m.ben });
		got.push(['ana and ben share a safety code', String(after[0] === after[1]), 'true']);
		got.push(['it changed', String(after[0] !== before[0]), 'true']);
		got.push(['the roster ana verifies', m.ana.roster().map((x) => x.nick).sort().join(','), 'Ana,ben']);
		const secret = send('mana', await m.ana.seal('cal is gone', hi.seq));
		const o = await m.ben.open(secret.frame, secret);
		got.push(['ben reads the new epoch', o.envelope.body, 'cal is gone']);
		got.push(['cal, fed the new epoch by the tap, cannot', await code(m.cal.open(secret.frame, secret)), 'undecryptable']);
		return got;`)
}

// TestMLSRoomSenderChecks: a malicious server cannot relabel or replay a
// message, and a malicious member cannot send as another.
func TestMLSRoomSenderChecks(t *testing.T) {
	runMLSCases(t, `
		const m = await seat('ben', 'cal');
		const got = [];
		const a = send('mana', await m.ana.seal('from ana', 0));
		got.push(['ana\'s message relayed as from ben', await code(m.cal.open(a.frame, { from: 'mben', seq: a.seq })), 'relabelled']);
		const a2 = send('mana', await m.ana.seal('again from ana', 0));
		got.push(['ben reads it', await code(m.ben.open(a2.frame, a2)), 'ok']);
		got.push(['the server replays it under a new seq', await code(m.ben.open(a2.frame, { from: 'mana', seq: a2.seq + 5 })), 'replay']);
		// ben, a member, speaks as ana: he sets his room's author to hers.
		m.ben.me = 'mana'; m.ben.nick = 'Ana';
		const forged = send('mana', await m.ben.seal('ana owes ben', 0));
		got.push(['ben\'s message in ana\'s name', await code(m.cal.open(forged.frame, forged)), 'bad_signature']);
		return got;`)
}

// TestMLSRoomAdmission: a key package is admitted only with the invite's
// secret and for the member the server seated; a leaked secret does not
// admit another member id.
func TestMLSRoomAdmission(t *testing.T) {
	runMLSCases(t, `
		const ana = await R.MlsRoom.create({ room: 'r1', me: 'mana', nick: 'Ana' });
		const got = [];
		const eve = await R.PendingJoin.prepare({ room: 'r1', me: 'meve', nick: 'Eve', secret: 'a guess' });
		got.push(['a key package without the invite secret', await code(ana.admit(eve.frame, 'meve', 'secret-ben')), 'bad_invite']);
		const ben = await R.PendingJoin.prepare({ room: 'r1', me: 'mben', nick: 'Ben', secret: 'secret-ben' });
		got.push(['ben\'s key package presented as from eve', await code(ana.admit(ben.frame, 'meve', 'secret-ben')), 'bad_invite']);
		got.push(['garbage', await code(ana.admit('e2e1.kp.!!', 'mben', 'secret-ben')), 'malformed']);
		// A member of another room's group, claiming this room, welcomes ben there.
		const other = await R.MlsRoom.create({ room: 'r2', me: 'mana', nick: 'Ana' });
		other.room = 'r1';
		const elsewhere = await other.admit(ben.frame, 'mben', 'secret-ben');
		got.push(['a Welcome into another room\'s group', await code(ben.join(elsewhere.welcome)), 'malformed']);
		const { commit, welcome } = await ana.admit(ben.frame, 'mben', 'secret-ben');
		got.push(['the Welcome is not for eve', String(await eve.join(welcome)), 'null']);
		await ana.apply(commit);
		const b = await ben.join(welcome);
		got.push(['ben is in, at ana\'s epoch', String(b.epoch === ana.epoch && b.epoch === 1), 'true']);
		got.push(['ben\'s roster', b.roster().map((x) => x.id + ':' + x.nick).sort().join(','), 'mana:Ana,mben:Ben']);
		return got;`)
}

// TestMLSRoomConcurrentCommits: two members commit for the same epoch; the
// server's seq decides, and everyone, both committers included, ends in
// the same epoch with the same roster.
func TestMLSRoomConcurrentCommits(t *testing.T) {
	runMLSCases(t, `
		const m = await seat('ben', 'cal');
		const got = [];
		// cal left: ana and ben both commit her Remove; ben's reaches the server first.
		const fromAna = await m.ana.remove('mcal');
		const fromBen = await m.ben.remove('mcal');
		const first = send('mben', fromBen), second = send('mana', fromAna);
		got.push(['ana applies ben\'s', await m.ana.apply(first.frame), 'applied']);
		got.push(['ben applies his own', await m.ben.apply(first.frame), 'applied']);
		got.push(['ana\'s own comes second: stale for ana', await m.ana.apply(second.frame), 'stale']);
		got.push(['and for ben', await m.ben.apply(second.frame), 'stale']);
		got.push(['one epoch', m.ana.epoch + '/' + m.ben.epoch, '3/3']);
		const c = await codes({ ana: m.ana, ben: m.ben });
		got.push(['one safety code', String(c[0] === c[1]), 'true']);
		const x = send('mana', await m.ana.seal('still talking', 0));
		got.push(['ben reads ana', await code(m.ben.open(x.frame, x)), 'ok']);
		return got;`)
}

// TestMLSRoomReload: a member's page reloads (its state saved, as JSON,
// and restored): it reads on, its counter goes on (its next message is no
// replay to the others), and a message it read before the reload is still
// a replay after it. A saved state that is not one is refused.
func TestMLSRoomReload(t *testing.T) {
	runMLSCases(t, `
		const m = await seat('ben');
		const got = [];
		const one = send('mana', await m.ana.seal('one', 0));
		await m.ben.open(one.frame, one);
		const b1 = send('mben', await m.ben.seal('ben one', one.seq));
		await m.ana.open(b1.frame, b1);
		const ben = await R.MlsRoom.restore(JSON.parse(JSON.stringify(m.ben.save())));
		const two = send('mana', await m.ana.seal('two', b1.seq));
		const o = await ben.open(two.frame, two);
		got.push(['ben, reloaded, reads on', o.envelope.body + '/' + o.placement.status, 'two/ok']);
		got.push(['the message read before the reload, replayed', await code(ben.open(one.frame, { from: 'mana', seq: 9 })), 'replay']);
		const b2 = send('mben', await ben.seal('ben two', two.seq));
		const p = await m.ana.open(b2.frame, b2);
		got.push(['ben\'s counter went on', p.envelope.n + '/' + p.placement.status, '2/ok']);
		got.push(['one safety code', String((await ben.safetyCode()) === (await m.ana.safetyCode())), 'true']);
		for (const [name, bad] of [['null', null], ['another version', { ...m.ben.save(), v: 2 }],
			['a state that is not one', { ...m.ben.save(), state: 'AAAA' }], ['someone else\'s', { ...m.ben.save(), me: 'meve' }]]) {
			got.push(['restore ' + name, await code(R.MlsRoom.restore(bad)), 'malformed']);
		}
		return got;`)
}

// TestMLSRoomFigures times, in one tab, what the speed targets
// are about, for a room of ten: the crypto of a message from seal to open
// (median of 21), a join (key package, admit, every member applying the
// commit, the Welcome) and a leave's rotation (the Remove commit and every
// remaining member applying it). One tab does every member's work in
// turn, so the join and rotation figures are upper bounds of what ten
// tabs do in parallel. It logs the figures and asserts nothing on them.
func TestMLSRoomFigures(t *testing.T) {
	p := mlsPage(t)
	got := eval[map[string]float64](p, `(async () => {`+mlsHelper+`
		const m = await seat('b', 'c', 'd', 'e', 'f', 'g', 'h', 'i');
		const out = {};
		let t0 = performance.now();
		const p = await R.PendingJoin.prepare({ room: 'r1', me: 'mj', nick: 'j', secret: 's' });
		const { commit, welcome } = await m.ana.admit(p.frame, 'mj', 's');
		for (const r of Object.values(m)) await r.apply(commit);
		m.j = await p.join(welcome);
		out['join of the 10th, all members (ms)'] = performance.now() - t0;
		const times = [];
		for (let i = 0; i < 21; i++) {
			const s = performance.now();
			const x = send('mana', await m.ana.seal('message ' + i, 0));
			await m.b.open(x.frame, x);
			times.push(performance.now() - s);
		}
		times.sort((a, b) => a - b);
		out['seal + open one message, median (ms)'] = times[10];
		t0 = performance.now();
		const rm = await m.ana.remove('mj');
		for (const r of Object.values(m)) if (r !== m.j) await r.apply(rm);
		out['leave rotation, 9 remaining (ms)'] = performance.now() - t0;
		out['members'] = Object.keys(m).length;
		return out;
	})()`)
	for k, v := range got {
		t.Logf("%-40s %7.1f", k, v)
	}
	if got["members"] != 10 {
		t.Errorf("the room had %v members, want 10", got["members"])
	}
}

// TestMLSRoomDuplicateIdentity: a malicious member cannot add a second
// leaf under another member's id to sign as them: every honest member
// refuses the commit and stays in its epoch, where the real member's
// messages still verify and the forger's do not.
func TestMLSRoomDuplicateIdentity(t *testing.T) {
	runMLSCases(t, `
		const m = await seat('ben', 'mal');
		const got = [];
		// mal makes a key package in ana's name and admits it herself.
		const fake = await R.PendingJoin.prepare({ room: 'r1', me: 'mana', nick: 'Ana', secret: 'mal' });
		const { commit, welcome } = await m.mal.admit(fake.frame, 'mana', 'mal');
		const c = send('mmal', commit);
		const epoch = m.ben.epoch;
		got.push(['ben refuses the commit', await code(m.ben.apply(c.frame)), 'bad_commit']);
		got.push(['ana refuses it too', await code(m.ana.apply(c.frame)), 'bad_commit']);
		got.push(['ben stays in his epoch', String(m.ben.epoch === epoch), 'true']);
		got.push(['an honest joiner refuses such a Welcome', await code(fake.join(welcome)), 'bad_commit']);
		// The forger joins with ts-mls directly, past that check.
		const M = await import('/client/vendor/ts-mls.js');
		const w = JSON.parse(atob(welcome.slice('e2e1.w.'.length).replace(/-/g, '+').replace(/_/g, '/')));
		const wb = Uint8Array.from(atob(w.w.replace(/-/g, '+').replace(/_/g, '/')), (ch) => ch.charCodeAt(0));
		const cs = await M.getCiphersuiteImpl(M.getCiphersuiteFromName('MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519'));
		const st = await M.joinGroup(M.decodeMlsMessage(wb, 0)[0].welcome, fake.kp.publicPackage, fake.kp.privatePackage, M.emptyPskIndex, cs);
		const forger = new R.MlsRoom(fake.o, st, fake.identity);
		const f = send('mana', await forger.seal('ana says: trust mal', 0));
		got.push(['the forger\'s message, to ben', await code(m.ben.open(f.frame, f)), 'undecryptable']);
		const real = send('mana', await m.ana.seal('the real ana', 0));
		got.push(['ana\'s real message, to ben', await code(m.ben.open(real.frame, real)), 'ok']);
		return got;`)
}
