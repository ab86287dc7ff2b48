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
