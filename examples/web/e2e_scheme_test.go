package web_test

import (
	"testing"
)

// These are the Chromium unit tests of the signed envelopes
// (client/signed.js), the first piece of the authenticated rooms of
// docs/E2E.md: identities, per-message signatures, and the detection of
// relabelled, replayed, reordered and malformed messages. Each case names
// the row of the threat model it checks.

// envHelper loads signed.js into the page as E, with two identities (ana,
// ben), a mallory who is a member too, and a roster that binds ana's and
// ben's keys to their nicknames, as the reader's verified roster would.
const envHelper = `
	const E = await import('/lib/signed.js');
	const ana = await E.newIdentity(), ben = await E.newIdentity(), mallory = await E.newIdentity();
	const keys = { mA: { publicKey: ana.publicKey, nick: 'Ana' }, mB: { publicKey: ben.publicKey, nick: 'Ben' },
		mM: { publicKey: mallory.publicKey, nick: 'Mal' } };
	const roster = (m) => keys[m];
	const env = (over = {}) => ({ kind: 'message', room: 'r1', from: 'mA', nick: 'Ana', epoch: 3, n: 1, seen: 0,
		ts: 1764000000000, body: 'hello', ...over });
	// code opens text as expected and returns 'ok' or the EnvelopeError's
	// code; anything else thrown is 'THREW <name>'.
	const code = async (text, expect) => {
		try { await E.openEnvelope(text, { room: 'r1', roster, ...expect }); return 'ok'; }
		catch (e) { return e instanceof E.EnvelopeError ? e.code : 'THREW ' + (e && e.name); }
	};
	const b64 = (u) => btoa(String.fromCharCode(...u)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
	const unb64 = (s) => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));
	// repack replaces the payload of a signed text, keeping its signature:
	// what a server or relaying owner would try.
	const repack = (text, edit) => {
		const [p, s] = text.split('.');
		const a = JSON.parse(new TextDecoder().decode(unb64(p)));
		edit(a);
		return b64(new TextEncoder().encode(JSON.stringify(a))) + '.' + s;
	};
	// signRaw signs any payload array under the envelope label, as a member
	// who bypasses signEnvelope's checks would.
	const signRaw = async (id, a) => {
		const payload = new TextEncoder().encode(JSON.stringify(a));
		const label = new TextEncoder().encode('epchat-v1 envelope\0');
		const msg = new Uint8Array(label.length + payload.length); msg.set(label); msg.set(payload, label.length);
		return b64(payload) + '.' + b64(new Uint8Array(await crypto.subtle.sign('Ed25519', id.privateKey, msg)));
	};
`

type envCase struct {
	name string
	got  string
	want string
}

func checkCases(t *testing.T, cases []envCase) {
	t.Helper()
	if len(cases) == 0 {
		t.Fatal("no cases ran")
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, c.got, c.want)
		}
	}
}

// runCases runs body (after envHelper) in a page; body returns an array of
// [name, got, want].
func runCases(t *testing.T, body string) {
	t.Helper()
	h := newHarness(t, pollMode)
	p := h.libPage("reader")
	raw := js[[][]string](p, envHelper+body)
	cases := make([]envCase, 0, len(raw))
	for _, r := range raw {
		if len(r) != 3 {
			t.Fatalf("bad case %v", r)
		}
		cases = append(cases, envCase{r[0], r[1], r[2]})
	}
	checkCases(t, cases)
}

// TestEnvelopeSignatures: a malicious server cannot forge a message, and a
// malicious member cannot send as another member or change what another
// said (threat model: malicious server, malicious member, malicious owner
// relaying history).
func TestEnvelopeSignatures(t *testing.T) {
	runCases(t, `
		const good = await E.signEnvelope(ana, env());
		const opened = await E.openEnvelope(good, { room: 'r1', from: 'mA', roster });
		return [
			['a genuine message opens', await code(good, { from: 'mA' }), 'ok'],
			['its fields come back', JSON.stringify([opened.from, opened.nick, opened.epoch, opened.n, opened.body]),
				JSON.stringify(['mA', 'Ana', 3, 1, 'hello'])],
			['the server changes its body', await code(repack(good, (a) => { a[9] = 'pay Mallory'; }), { from: 'mA' }), 'bad_signature'],
			['the server backdates it', await code(repack(good, (a) => { a[8] = 1000; }), { from: 'mA' }), 'bad_signature'],
			['the server changes its epoch', await code(repack(good, (a) => { a[5] = 4; }), { from: 'mA' }), 'bad_signature'],
			['mallory signs as ana', await code(await E.signEnvelope(mallory, env()), { from: 'mA' }), 'bad_signature'],
			['mallory forges a history entry in ana\'s name',
				await code(await E.signEnvelope(mallory, env({ kind: 'history' })), { kind: 'history' }), 'bad_signature'],
			['ana\'s genuine history entry opens', await code(await E.signEnvelope(ana, env({ kind: 'history' })), { kind: 'history' }), 'ok'],
			['a message replayed as a history entry', await code(good, { kind: 'history' }), 'malformed'],
			['an author the reader cannot verify', await code(await E.signEnvelope(mallory, env({ from: 'mX', nick: 'X' })), {}), 'unknown_sender'],
			['a signature made for something else', await code(good.split('.')[0] + '.' + b64(new Uint8Array(
				await crypto.subtle.sign('Ed25519', ana.privateKey, unb64(good.split('.')[0])))), { from: 'mA' }), 'bad_signature'],
		];`)
}

// TestEnvelopeRelabel: a malicious server cannot show a member's genuine
// message under another member, another nickname or in another room
// (threat model: malicious server).
func TestEnvelopeRelabel(t *testing.T) {
	runCases(t, `
		const good = await E.signEnvelope(ana, env());
		return [
			['ana\'s message relayed as from ben', await code(good, { from: 'mB' }), 'relabelled'],
			['ana\'s message with its author rewritten to ben', await code(repack(good, (a) => { a[3] = 'mB'; a[4] = 'Ben'; }), { from: 'mB' }), 'bad_signature'],
			['ana\'s message under another nickname', await code(repack(good, (a) => { a[4] = 'Ben'; }), { from: 'mA' }), 'bad_signature'],
			['ana\'s message replayed into another room', await code(good, { room: 'r2', from: 'mA' }), 'wrong_room'],
			['ana signs with a nickname her key is not bound to', await code(await E.signEnvelope(ana, env({ nick: 'Ben' })), { from: 'mA' }), 'nickname_mismatch'],
		];`)
}

// TestEnvelopeReplayAndOrder: a malicious server cannot replay, drop or
// reorder a member's messages without the page seeing it (threat model:
// malicious server).
func TestEnvelopeReplayAndOrder(t *testing.T) {
	runCases(t, `
		const tr = new E.SenderTracker();
		const place = (over, seq) => { const p = tr.place(env(over), seq); return p.status + '/' + p.missing; };
		const got = [];
		got.push(['ana 1 at seq 1', place({ n: 1 }, 1), 'ok/0']);
		got.push(['ben 1 at seq 2', place({ from: 'mB', n: 1, seen: 1 }, 2), 'ok/0']);
		got.push(['ana 1 again at seq 3 (replayed under a new seq)', place({ n: 1 }, 3), 'replay/0']);
		got.push(['ana 4 at seq 4 (2 and 3 dropped)', place({ n: 4, seen: 2 }, 4), 'gap/2']);
		got.push(['ana 2 at seq 5 (late)', place({ n: 2, seen: 1 }, 5), 'late/0']);
		got.push(['ana 2 again', place({ n: 2, seen: 1 }, 6), 'replay/0']);
		got.push(['ana 5, which saw seq 9, put at seq 7 (reordered)', place({ n: 5, seen: 9 }, 7), 'reordered/0']);
		// A reload keeps what was seen: the replay is still one.
		const again = new E.SenderTracker(JSON.parse(JSON.stringify(tr.save())));
		const p = again.place(env({ n: 4 }), 8);
		got.push(['after a reload, ana 4 again', p.status, 'replay']);
		const q = again.place(env({ n: 3 }), 9);
		got.push(['after a reload, ana 3 (still missing) comes late', q.status, 'late']);
		got.push(['a saved state that is garbage starts empty', new E.SenderTracker({ mA: { high: 'x' }, mB: null }).place(env(), 1).status, 'ok']);
		return got;`)
}

// TestEnvelopeMalformed: no envelope, however malformed, makes openEnvelope
// throw anything but an EnvelopeError, nor yield a time a page cannot show
// (threat model: malicious owner relaying history: "no history breaks a
// page").
func TestEnvelopeMalformed(t *testing.T) {
	runCases(t, `
		const good = await E.signEnvelope(ana, env());
		const base = [1, 'message', 'r1', 'mA', 'Ana', 3, 1, 0, 1764000000000, 'hello'];
		const bad = async (name, edit) => { const a = [...base]; edit(a); return [name, await code(await signRaw(ana, a), { from: 'mA' }), 'malformed']; };
		const got = [
			await bad('a time of 1e300', (a) => { a[8] = 1e300; }),
			await bad('a time past what a Date holds, though a safe integer', (a) => { a[8] = 9e15; }),
			await bad('a negative time', (a) => { a[8] = -1; }),
			await bad('a fractional counter', (a) => { a[6] = 1.5; }),
			await bad('a counter of 0', (a) => { a[6] = 0; }),
			await bad('an epoch as a string', (a) => { a[5] = '3'; }),
			await bad('another version', (a) => { a[0] = 2; }),
			await bad('an unknown kind', (a) => { a[1] = 'admin'; }),
			await bad('a nickname that is an object', (a) => { a[4] = { toString: 1 }; }),
			await bad('a missing field', (a) => { a.pop(); }),
		];
		for (const [name, text] of [['null', null], ['a number', 42], ['empty', ''], ['no dot', 'abc'],
			['three parts', good + '.x'], ['not base64url', '!!.??'], ['a short signature', good.split('.')[0] + '.AAAA'],
			['not JSON', b64(new TextEncoder().encode('{')) + '.' + good.split('.')[1]],
			['an object, not an array', b64(new TextEncoder().encode('{"0":1}')) + '.' + good.split('.')[1]]]) {
			got.push([name, await code(text, { from: 'mA' }), 'malformed']);
		}
		let threw = 'none';
		try { await E.signEnvelope(ana, env({ ts: 1e300 })); } catch (e) { threw = e.code; }
		got.push(['signing a time of 1e300 is refused', threw, 'malformed']);
		got.push(['a roster key that is not one', await code(good, { from: 'mA', roster: () => ({ publicKey: 'AAAA', nick: 'Ana' }) }), 'bad_signature']);
		return got;`)
}
