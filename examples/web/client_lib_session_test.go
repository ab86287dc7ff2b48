package web_test

import (
	"testing"

	"github.com/epchat-go/epchat"
)

// TestLibSessionConnected: a second tab of Ana's session connects with her
// token. The library passes the server's session_connected on to the
// first one, with the count of connections: an event without a room still
// reaches its listeners.
func TestLibSessionConnected(t *testing.T) {
	h := newHarness(t, pollMode)
	p := h.libPage("lib")
	js[bool](p, `const ana = T.make('ana'); await ana.connect({ nickname: 'Ana' });
		T.store('tab2').set('session', T.store('ana').get('session'));
		const tab = T.make('tab2'); await tab.restore(); await tab.connect(); return true;`)
	waitEvent(p, "ana", "session_connected", `e.connections === 2`)
}

// TestLibHelloRefused: the server has room for one user. Ben's connect is
// refused for now: it rejects with a ProtocolError too_many_users rather
// than waiting for ever, and the client goes on trying: once Ana's session
// ends there is room, and Ben is welcomed.
func TestLibHelloRefused(t *testing.T) {
	h := newHarness(t, pollMode, epchat.WithMaxUsers(1))
	p := h.libPage("lib")
	js[bool](p, `await T.make('ana').connect({ nickname: 'Ana' }); return true;`)
	got := js[failure](p, `return await T.fails(T.make('ben').connect({ nickname: 'Ben' }));`)
	wantCode(t, "a hello past the server's users", got, "too_many_users")
	js[bool](p, `await C.ana.endSession(); C.ben.retryNow(); return true;`)
	waitEvent(p, "ben", "welcome", `e.you.nickname === 'Ben'`)
}
