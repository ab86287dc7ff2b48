package epchat_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/epchat-go/epchat"
	"github.com/epchat-go/epchat/epchattest"
)

// loggedRecord is a log record with what the logger that made it added
// (With, WithGroup), outermost first.
type loggedRecord struct {
	rec   slog.Record
	scope []logScope
}

// logScope is one With (attrs) or WithGroup (group) of a logger.
type logScope struct {
	group string
	attrs []slog.Attr
}

// logRecorder is a slog.Handler that keeps every record, at every level,
// attributes included. It also formats each record at once, as text, as
// JSON and as a dump of every value: a value logged by pointer and changed
// afterwards is seen as a real handler would see it.
type logRecorder struct {
	shared     *recorded
	scope      []logScope
	text, json slog.Handler
}

type recorded struct {
	mu               sync.Mutex
	recs             []loggedRecord
	text, json, dump bytes.Buffer
}

func newLogRecorder() *logRecorder {
	l := &logRecorder{shared: &recorded{}}
	all := &slog.HandlerOptions{Level: slog.LevelDebug - 8}
	l.text = slog.NewTextHandler(&l.shared.text, all)
	l.json = slog.NewJSONHandler(&l.shared.json, all)
	return l
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }

func (l *logRecorder) Handle(ctx context.Context, r slog.Record) error {
	l.shared.mu.Lock()
	defer l.shared.mu.Unlock()
	lr := loggedRecord{rec: r.Clone(), scope: slices.Clone(l.scope)}
	l.shared.recs = append(l.shared.recs, lr)
	lr.dump(&l.shared.dump)
	l.text.Handle(ctx, r)
	l.json.Handle(ctx, r)
	return nil
}

func (l *logRecorder) WithAttrs(as []slog.Attr) slog.Handler {
	return &logRecorder{
		shared: l.shared,
		scope:  append(slices.Clip(l.scope), logScope{attrs: as}),
		text:   l.text.WithAttrs(as),
		json:   l.json.WithAttrs(as),
	}
}

func (l *logRecorder) WithGroup(name string) slog.Handler {
	return &logRecorder{
		shared: l.shared,
		scope:  append(slices.Clip(l.scope), logScope{group: name}),
		text:   l.text.WithGroup(name),
		json:   l.json.WithGroup(name),
	}
}

func (l *logRecorder) all() []loggedRecord {
	l.shared.mu.Lock()
	defer l.shared.mu.Unlock()
	return slices.Clone(l.shared.recs)
}

// outputs returns the records formatted when they came: a dump of every
// value, text, JSON.
func (l *logRecorder) outputs() (dump, text, json string) {
	l.shared.mu.Lock()
	defer l.shared.mu.Unlock()
	return l.shared.dump.String(), l.shared.text.String(), l.shared.json.String()
}

// dump writes everything a record holds: message, level, and every
// attribute key and value, resolved and printed every way fmt can.
func (r loggedRecord) dump(w io.Writer) {
	fmt.Fprintln(w, r.rec.Level, r.rec.Message)
	var attr func(a slog.Attr)
	attr = func(a slog.Attr) {
		v := a.Value.Resolve()
		fmt.Fprint(w, a.Key, "=")
		switch v.Kind() {
		case slog.KindGroup:
			for _, g := range v.Group() {
				attr(g)
			}
		case slog.KindAny:
			x := v.Any()
			fmt.Fprintf(w, "%v %+v %#v", x, x, x)
			if err, ok := x.(error); ok {
				fmt.Fprint(w, " ", err.Error())
			}
		default:
			fmt.Fprint(w, v.String())
		}
		fmt.Fprintln(w)
	}
	for _, s := range r.scope {
		fmt.Fprintln(w, "group", s.group)
		for _, a := range s.attrs {
			attr(a)
		}
	}
	r.rec.Attrs(func(a slog.Attr) bool { attr(a); return true })
}

// marker is in every canary string the test sends. Random ids are
// base64url: 6 given characters in a row in one of them is a 1 in 64^6
// chance.
const marker = "cAnArY"

// Nothing a user says or holds (nickname, message text, history data,
// session and invite tokens, request ids, anything sent in a request or
// on the handshake) reaches the logs, the hooks or the Stats, over a whole
// session that takes every path that logs.
func TestNothingSecretInTelemetry(t *testing.T) {
	const (
		nickAna     = "Ana-" + marker + "-nick"
		nickBen     = "Ben-" + marker + "-nick"
		nickPreset  = "Preset-" + marker + "-nick"
		nickTooLong = "Long-" + marker + "-nick-that-is-too-long-to-be-valid"
		text        = marker + "-text"
		data        = marker + "-history-data"
		reqID       = marker + "-request-id"
		badInvite   = marker + "-bad-invite-token"
		badSession  = marker + "-bad-session-token"
		bogusRoom   = marker + "-room"
		bogusType   = marker + "-type"
		binary      = marker + "-binary"
		closeReason = marker + "-close-reason"
		path        = marker + "-path?q=" + marker + "-query"
		agent       = marker + "-user-agent"
	)
	rec := newLogRecorder()
	var (
		hookMu sync.Mutex
		hooked []any
	)
	hook := func(ev any) {
		hookMu.Lock()
		hooked = append(hooked, ev)
		hookMu.Unlock()
	}
	th := newTestHub(t, quiet,
		epchat.WithLogger(slog.New(rec)),
		epchat.WithHooks(epchat.Hooks{
			RoomOpened:     func(e epchat.RoomEvent) { hook(e) },
			RoomClosed:     func(e epchat.RoomEvent) { hook(e) },
			MemberJoined:   func(e epchat.MemberEvent) { hook(e) },
			MemberLeft:     func(e epchat.MemberEvent) { hook(e) },
			InviteRedeemed: func(e epchat.InviteEvent) { hook(e) },
		}),
		epchat.WithAuthorize(func(r *http.Request) (string, error) {
			if r.Header.Get("X-Staff") != "" {
				return nickPreset, nil
			}
			return "", nil
		}),
		epchat.WithMaxMessageSize(256),
	)
	ctx := context.Background()
	var secrets []string // tokens handed out, found as the session goes
	keep := func(tok string) string {
		if tok == "" {
			t.Fatal("no token")
		}
		secrets = append(secrets, tok)
		return tok
	}

	// Identities: a nickname, a nickname set by the host, refused ones, a
	// bad session token, a second tab.
	ana := dialWith(t, th.url+path, http.Header{"User-Agent": {agent}})
	w := ana.MustCall("welcome", map[string]any{"type": "hello", "id": reqID, "nickname": nickAna})
	you, _ := w["you"].(map[string]any)
	ana.ID, ana.Token = you["id"].(string), keep(w.Str("token"))
	ben := th.client(t, nickBen)
	keep(ben.Token)
	carol := dialWith(t, th.url, http.Header{"X-Staff": {"1"}})
	carol.Hello("ignored")
	keep(carol.Token)
	tab := epchattest.Dial(t, th.url)
	if e := tab.Call(map[string]any{"type": "hello", "nickname": nickTooLong}); e.Str("code") != "invalid_nickname" {
		t.Fatalf("long nickname: %v", e)
	}
	if e := tab.Call(map[string]any{"type": "hello", "token": badSession}); e.Str("code") != "session_invalid" {
		t.Fatalf("bad session: %v", e)
	}
	tab.MustCall("welcome", map[string]any{"type": "hello", "token": ana.Token})

	// A room: invites, a refused one, messages, history, errors.
	room := ana.MustCall("joined", map[string]any{"type": "create", "id": reqID}).Str("room")
	inv := keep(ana.MustCall("invite", map[string]any{"type": "invite", "room": room}).Str("token"))
	ben.MustCall("joined", map[string]any{"type": "join", "token": inv})
	if e := carol.Call(map[string]any{"type": "join", "token": badInvite}); e.Str("code") != "invite_invalid" {
		t.Fatalf("bad invite: %v", e)
	}
	inv = keep(ana.MustCall("invite", map[string]any{"type": "invite", "room": room}).Str("token"))
	carol.MustCall("joined", map[string]any{"type": "join", "token": inv})
	for i := range 3 {
		ana.MustCall("sent", map[string]any{"type": "send", "id": fmt.Sprint(reqID, i), "room": room, "text": text})
		for _, c := range []*epchattest.Client{ben, carol, tab} {
			if e := c.Expect("message", room); e.Str("text") != text {
				t.Fatalf("message: %v", e)
			}
		}
	}
	if e := ana.Call(map[string]any{"type": "send", "room": room, "text": text + strings.Repeat("x", 300)}); e.Str("code") != "too_large" {
		t.Fatalf("long text: %v", e)
	}
	if e := ana.Call(map[string]any{"type": "send", "room": bogusRoom, "text": text}); e.Str("code") != "not_found" {
		t.Fatalf("bogus room: %v", e)
	}
	ana.MustCall("ok", map[string]any{"type": "history", "room": room, "to": ben.ID, "data": data})
	if e := ben.Expect("history", room); e.Str("data") != data {
		t.Fatalf("history: %v", e)
	}
	if e := ana.Call(map[string]any{"type": "history", "room": room, "to": bogusRoom, "data": data}); e.Str("code") != "not_found" {
		t.Fatalf("history to nobody: %v", e)
	}
	if e := ana.Call(map[string]any{"type": bogusType, "id": reqID}); e.Str("code") != "unknown_type" {
		t.Fatalf("unknown type: %v", e)
	}
	ana.SendRaw(`{"type":"send","id":"` + reqID + `","room":` + text + `}`)
	ana.Take("bad request", func(e epchattest.Event) bool { return e.Str("code") == "bad_request" })
	ben.MustCall("members", map[string]any{"type": "members", "room": room})
	ben.MustCall("ok", map[string]any{"type": "leave", "room": room})
	ana.MustCall("ok", map[string]any{"type": "close", "room": room})

	// Reconnection, a room opened by the host, an invite expiring, a
	// member not coming back, a room closing when idle.
	ben.Conn.Close()
	th.waitDetached(t, ben.Token)
	ben2 := epchattest.Dial(t, th.url)
	ben2.MustCall("welcome", map[string]any{"type": "hello", "token": ben.Token})
	nr, err := th.CreateRoom(ctx, epchat.RoomSpec{Invites: 2})
	if err != nil {
		t.Fatal(err)
	}
	keep(nr.Owner.Token)
	keep(nr.Members[0].Token)
	keep(nr.Members[1].Token)
	ben2.MustCall("joined", map[string]any{"type": "join", "token": nr.Owner.Token})
	carol.MustCall("joined", map[string]any{"type": "join", "token": nr.Members[0].Token})
	th.clock.Advance(epchat.DefaultInviteTTL)
	carol.Conn.Close()
	th.waitDetached(t, carol.Token)
	th.clock.Advance(epchat.DefaultReconnectGrace + time.Second)
	ben2.Expect("member_left", nr.ID)
	th.clock.Advance(epchat.DefaultRoomIdleTimeout + time.Second)
	ben2.Expect("room_closed", nr.ID)

	// Protocol violations and a client's close, with content in them.
	p := epchattest.Dial(t, th.url)
	p.WriteFrame(ws.OpBinary, []byte(binary))
	p.CloseCode()
	p.Conn.Close()
	q := epchattest.Dial(t, th.url)
	q.WriteFrame(ws.OpText, []byte(`{"type":"send","text":"`+text+strings.Repeat("y", 2000)+`"}`))
	q.CloseCode()
	q.Conn.Close()
	r := th.client(t, nickBen)
	keep(r.Token)
	r.WriteFrame(ws.OpClose, ws.NewCloseFrameBody(ws.StatusNormalClosure, closeReason))
	r.CloseCode()
	th.waitDetached(t, r.Token)

	// Carol forgotten (in no room since the grace), and r (in none ever);
	// a room open at shutdown.
	th.clock.Advance(epchat.DefaultUserIdleTimeout)
	ana.MustCall("joined", map[string]any{"type": "create"})
	if err := th.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	stats := th.Stats()

	// Everything to search.
	var secretsToo []string
	for _, s := range secrets {
		sum := sha256.Sum256([]byte(s))
		secretsToo = append(secretsToo, s, hex.EncodeToString(sum[:]),
			base64.RawURLEncoding.EncodeToString(sum[:]), base64.StdEncoding.EncodeToString(sum[:]))
	}
	dumps, textLog, jsonLog := rec.outputs()
	// Formatted again now, from the records kept.
	var dumps2 bytes.Buffer
	for _, r := range rec.all() {
		r.dump(&dumps2)
	}
	hookMu.Lock()
	hooksJSON, err := json.Marshal(hooked)
	if err != nil {
		t.Fatal(err)
	}
	hooksGo := fmt.Sprintf("%#v %+v", hooked, hooked)
	hookMu.Unlock()
	statsJSON, _ := json.Marshal(stats)
	outputs := map[string]string{
		"log records":     dumps,
		"log records now": dumps2.String(),
		"text log":        textLog,
		"JSON log":        jsonLog,
		"hook events":     hooksGo,
		"hook JSON":       string(hooksJSON),
		"Stats":           fmt.Sprintf("%#v", stats),
		"Stats JSON":      string(statsJSON),
	}
	for name, out := range outputs {
		if strings.Contains(out, marker) || strings.Contains(strings.ToLower(out), strings.ToLower(marker)) {
			t.Errorf("%s: a canary string leaked:\n%s", name, around(out, marker))
		}
		for _, s := range secretsToo {
			if strings.Contains(out, s) {
				t.Errorf("%s: a token leaked:\n%s", name, around(out, s))
			}
		}
	}

	// The search looked at real output: ids, reasons and counts are there.
	logged := textLog
	for _, want := range []string{
		ana.ID, room, nr.ID, "level=DEBUG", "level=INFO",
		`msg=identified`, `msg="room opened"`, `msg="room opened by host"`, `msg="member joined"`,
		`msg="member left"`, `msg="room closed"`, `msg="connection closed"`, `msg="protocol violation"`,
		`msg="users forgotten"`, `msg="invites expired"`, `msg="hub stopped"`,
		"reason=owner", "reason=idle", "reason=disconnected", "reason=shutdown", "reason=client", "reason=protocol",
	} {
		if !strings.Contains(logged, want) {
			t.Errorf("the log has no %q", want)
		}
	}
	if !strings.Contains(string(hooksJSON), nr.ID) || !strings.Contains(string(hooksJSON), ana.ID) {
		t.Errorf("the hooks saw no ids: %s", hooksJSON)
	}
	if stats.Messages != 3 || stats.Histories != 1 || stats.UsersCreated != 4 || stats.UsersForgotten != 2 {
		t.Errorf("Stats did not follow the session: %+v", stats)
	}
	if t.Failed() {
		t.Logf("text log:\n%s", logged)
	}
}

// around returns the line of out where s is.
func around(out, s string) string {
	i := strings.Index(strings.ToLower(out), strings.ToLower(s))
	start := strings.LastIndexByte(out[:i], '\n') + 1
	end := strings.IndexByte(out[i:], '\n')
	if end < 0 {
		return out[start:]
	}
	return out[start : i+end]
}

// dialWith opens a WebSocket to url with extra handshake headers.
func dialWith(t testing.TB, url string, hdr http.Header) *epchattest.Client {
	t.Helper()
	c, err := epchattest.DialHeader(t, url, hdr)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	return c
}
