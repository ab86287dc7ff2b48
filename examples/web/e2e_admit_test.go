package web_test

import (
	"testing"
)

// TestE2EAnyMemberAdmits: the owner who made an invite goes offline (her
// seat kept for the reconnect grace) before it is used; Ben, told the
// invite's secret when it was made, admits Cleo in the owner's place, and
// the room goes on under one safety code. Then the owner leaves for good
// with another invite pending: Ben, owner now, admits Dan at once.
func TestE2EAnyMemberAdmits(t *testing.T) {
	_, p, _ := e2ePage(t)
	room := e2eRoom(t, p, "ben")
	r := jsq(room)

	js[bool](p, `
		window.invCleo = await C.ana.invite(`+r+`);
		window.invDan = await C.ana.invite(`+r+`);
		C.ana.disconnect();
		const cleo = await T.mk('cleo', 'Cleo');
		await cleo.join(C.ana.inviteLink(location.href, window.invCleo));
		return true;`)
	p.wait("Cleo's keys, from Ben", `T.admitted('cleo', `+r+`)`)
	p.wait("one code for Ben and Cleo", `(async () => (await T.code('ben', `+r+`)) === (await T.code('cleo', `+r+`)))()`)
	js[bool](p, `await C.cleo.send(`+r+`, 'thanks for letting me in'); return true;`)
	waitEvent(p, "ben", "message", `e.body === 'thanks for letting me in' && e.verified && e.nickname === 'Cleo'`)

	// Ana back, then gone: Ben owns the room and admits Dan himself.
	js[bool](p, `await C.ana.connect(); await C.ana.leave(`+r+`); return true;`)
	waitEvent(p, "ben", "owner_changed", `e.owner === C.ben.me.id`)
	js[bool](p, `
		const dan = await T.mk('dan', 'Dan');
		await dan.join(C.ana.inviteLink(location.href, window.invDan));
		return true;`)
	p.wait("Dan's keys", `T.admitted('dan', `+r+`)`)
	p.wait("one code for the three", `(async () => { const b = await T.code('ben', `+r+`); return b === (await T.code('cleo', `+r+`)) && b === (await T.code('dan', `+r+`)); })()`)
	if bad := js[[]any](p, `return ['ben', 'cleo', 'dan'].flatMap((n) => [...T.events(n, 'refused'), ...T.events(n, 'undecryptable'), ...T.events(n, 'verification')]);`); len(bad) != 0 {
		t.Errorf("problems: %v", bad)
	}
}

// TestE2ELaterMemberAdmits: Cleo joins after an invite was made, and is
// told its secret by the owner once admitted; with the owner and Ben
// offline, Cleo admits Dan with it (her turn comes after theirs).
func TestE2ELaterMemberAdmits(t *testing.T) {
	_, p, _ := e2ePage(t)
	room := e2eRoom(t, p, "ben")
	r := jsq(room)
	js[bool](p, `
		window.invDan = await C.ana.invite(`+r+`);
		const cleo = await T.mk('cleo', 'Cleo');
		await cleo.join(C.ana.inviteLink(location.href, await C.ana.invite(`+r+`)));
		return true;`)
	p.wait("Cleo's keys", `T.admitted('cleo', `+r+`)`)
	p.wait("Cleo told of the pending invite", `C.cleo.room(`+r+`).crypto.invites.size === 1`)
	js[bool](p, `
		C.ana.disconnect();
		C.ben.disconnect();
		const dan = await T.mk('dan', 'Dan');
		await dan.join(C.ana.inviteLink(location.href, window.invDan));
		return true;`)
	p.wait("Dan's keys, from Cleo", `T.admitted('dan', `+r+`)`)
	p.wait("one code for Cleo and Dan", `(async () => (await T.code('cleo', `+r+`)) === (await T.code('dan', `+r+`)))()`)
}
