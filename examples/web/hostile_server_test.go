package web_test

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestE2EServerJunk: what a malicious server sends a member's Client
// that is not the room's traffic changes nothing it should not. A frame
// that does not open, however its seq and ts are set, moves neither the
// room's seq (which the member's envelopes tell the others) nor the
// Client's idea of the server's clock past a day; a flood of made-up
// joiners stops at the room's seats; a joined reply naming a room the
// Client is in already is refused, and the room keeps its keys. After all
// of it the room works: Ana's next message reaches Ben, placed ok.
func TestE2EServerJunk(t *testing.T) {
	_, p, adv := e2ePage(t)
	room := e2eRoom(t, p, "ben")
	r := jsq(room)
	id := ids(p, "ana", "ben")
	js[bool](p, `await C.ana.send(`+r+`, 'before'); return true;`)
	waitEvent(p, "ben", "message", `e.body === 'before'`)
	seq0 := js[float64](p, `return C.ben.room(`+r+`).seq;`)
	ben := adv.conn(id["ben"])
	// Junk under a huge seq and the last instant a Date can hold.
	ben.inject(map[string]any{"type": "message", "room": room, "from": id["ana"], "seq": 9007199254740991, "ts": 8639999999999999, "text": "e2e1.m.junk"})
	waitEvent(p, "ben", "undecryptable", `true`)
	if seq := js[float64](p, `return C.ben.room(`+r+`).seq;`); seq != seq0 {
		t.Errorf("a frame that did not open moved Ben's room seq from %v to %v", seq0, seq)
	}
	if skew := js[float64](p, `return Math.abs(C.ben.serverNow() - Date.now());`); skew > float64(24*time.Hour/time.Millisecond) {
		t.Errorf("the Client believes the server's clock is %v ms away, from one frame", skew)
	}
	if ok := js[bool](p, `new Date(C.ben.serverNow()).toISOString(); return true;`); !ok {
		t.Error("serverNow is no date")
	}
	// Made-up joiners, more than a room has seats.
	for i := range 30 {
		ben.inject(map[string]any{"type": "member_joined", "room": room, "member": map[string]any{"id": fmt.Sprintf("fake%03d%s", i, strings.Repeat("x", 100)), "nickname": "Fake"}})
	}
	p.wait("the made-up joiners looked at", `T.events('ben', 'invalid').filter((e) => e.event === 'member_joined').length >= 20`)
	if n := js[float64](p, `return C.ben.room(`+r+`).members.length;`); n > 10 {
		t.Errorf("Ben's room lists %v members after a flood of made-up joiners; a room has 10 seats", n)
	}
	// A joined reply to Ben's create that names the room he is in.
	adv.setRule(func(c *advConn, ev map[string]any) []map[string]any {
		if c.member() == id["ben"] && ev["type"] == "joined" {
			ev["room"] = room
		}
		return []map[string]any{ev}
	})
	code := js[string](p, `try { await C.ben.create(); return 'created'; } catch (e) { return e.code; }`)
	if code != "bad_reply" {
		t.Errorf("Ben's create answered with a joined for his room: %s; want bad_reply", code)
	}
	adv.setRule(nil)
	js[bool](p, `await C.ana.send(`+r+`, 'after'); return true;`)
	waitEvent(p, "ben", "message", `e.body === 'after'`)
	if got := js[string](p, `const e = T.events('ben', 'message').find((e) => e.body === 'after'); return e.placement + ' ' + e.verified;`); got != "ok true" {
		t.Errorf("Ana's message after the junk: placement and verified %q; want ok true", got)
	}
}

// TestPageServerJunk: the demo page through a malicious server. Ana's
// genuine message, given the number of the one before it, is shown all
// the same, flagged (not hidden behind the first); a junk frame dated the
// last instant a Date can hold breaks nothing (the page goes on drawing
// messages with sane times, and its notices too); a room closed with a
// reason named like what every object inherits ("constructor") says it
// was closed in plain words. Any script error fails the test
// (watchProblems).
func TestPageServerJunk(t *testing.T) {
	h := newHarness(t, pollMode)
	adv := newAdversary(t, h)
	ana, ben := h.person("Ana"), h.person("Ben")
	ana.open(adv.pageURL())
	ana.nickname("Ana")
	ana.createRoom()
	ben.open(ana.invite())
	ben.nickname("Ben")
	ben.wait("the keys", `document.querySelectorAll('#safety .group').length === 8`)
	ana.waitMembers("Ana", "Ben")
	anaID, benID := memberID(ben, "Ana"), memberID(ana, "Ben")

	var firstSeq float64
	n := 0
	adv.setRule(func(c *advConn, ev map[string]any) []map[string]any {
		text, _ := ev["text"].(string)
		if c.member() != benID || ev["type"] != "message" || ev["from"] != anaID || !strings.HasPrefix(text, "e2e1.m.") {
			return []map[string]any{ev}
		}
		n++
		switch n {
		case 1:
			firstSeq = ev["seq"].(float64)
		case 2: // under the first one's number
			ev["seq"] = firstSeq
		}
		return []map[string]any{ev}
	})
	ana.say("First of two.")
	ben.waitMessage("Ana", "First of two.")
	ana.say("Second, under the first one's number.")
	ben.waitMessage("Ana", "Second, under the first one's number.")
	if flag := eval[string](ben, `[...document.querySelectorAll('#log-wrap li.msg')].find((li) => li.textContent.includes('Second, under'))?.dataset.flag ?? ''`); flag != "reused" {
		t.Errorf("the message given another's number: flag %q, want reused", flag)
	}

	bc := adv.conn(benID)
	room := roomOf(t, bc)
	bc.inject(map[string]any{"type": "message", "room": room, "from": anaID, "seq": 999999, "ts": 8639999999999999, "text": "e2e1.m.junk"})
	ben.wait("the junk told", logHas("could not be decrypted"))
	ana.say("Third, after the junk.")
	ben.waitMessage("Ana", "Third, after the junk.")
	if year := eval[int](ben, `new Date([...document.querySelectorAll('#log-wrap li.msg time')].at(-1).dateTime).getFullYear()`); year > time.Now().Year()+1 {
		t.Errorf("Ben's page dates Ana's message in %d", year)
	}
	bc.inject(map[string]any{"type": "room_closed", "room": room, "reason": "constructor"})
	ben.wait("the close told", logHas("This room was closed."))
}

// roomOf is the id of the room the adversary's connection c was told it
// is in (its last joined event, or its welcome's first room).
func roomOf(t *testing.T, c *advConn) string {
	t.Helper()
	for _, typ := range []string{"joined", "welcome"} {
		evs := c.events(typ)
		for i := len(evs) - 1; i >= 0; i-- {
			if r, ok := evs[i]["room"].(string); ok && r != "" {
				return r
			}
			if rs, ok := evs[i]["rooms"].([]any); ok && len(rs) > 0 {
				if r, ok := rs[0].(map[string]any)["room"].(string); ok {
					return r
				}
			}
		}
	}
	t.Fatal("no room known for the connection")
	return ""
}
