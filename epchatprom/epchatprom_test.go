package epchatprom_test

import (
	"context"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/epchat-go/epchat"
	"github.com/epchat-go/epchat/epchatprom"
	"github.com/epchat-go/epchat/epchattest"
)

// fixedStats is a StatsSource that always returns the same snapshot: it
// checks the mapping from Stats fields to metrics, value by value. The
// test with a real Hub is TestCollectorFollowsASession.
type fixedStats epchat.Stats

func (f fixedStats) Stats() epchat.Stats { return epchat.Stats(f) }

// Every Stats field is exported once, under its name, with its value.
func TestCollectorMapsEveryField(t *testing.T) {
	s := epchat.Stats{
		Connections:        1,
		ConnectionsPolled:  40,
		ConnectionsOpened:  2,
		ConnectionsRefused: 38,
		ConnectionsClosed: epchat.ConnCloses{
			Client:          3,
			IdentifyTimeout: 4,
			PingTimeout:     5,
			Slow:            6,
			Protocol:        7,
			Shutdown:        8,
			Policy:          39,
			Other:           9,
		},
		Users:          10,
		UsersCreated:   11,
		UsersResumed:   12,
		UsersForgotten: 13,
		UsersEnded:     41,
		Rooms:          14,
		RoomsServed:    15,
		RoomsOpened:    16,
		RoomsClosed: epchat.RoomCloses{
			Owner:    17,
			Idle:     18,
			Empty:    19,
			Host:     20,
			Shutdown: 21,
			Lost:     44,
		},
		RoomsLocked:   42,
		RoomsUnlocked: 43,
		Members:       22,
		MembersJoined: 23,
		MembersLeft: epchat.MemberLeaves{
			Left:         24,
			Disconnected: 25,
			Kicked:       41,
		},
		Messages:        26,
		Histories:       27,
		Deliveries:      28,
		BytesIn:         29,
		BytesOut:        30,
		InvitesMade:     31,
		InvitesRedeemed: 32,
		InvitesExpired:  33,
		InvitesRefused:  34,
		Errors: map[string]uint64{
			"not_found": 35,
			"room_full": 36,
		},
		HooksDropped: 37,
	}
	want := `
# HELP epchat_connections WebSocket connections open now, identified or not.
# TYPE epchat_connections gauge
epchat_connections{hub="a"} 1
# HELP epchat_connections_polled Open connections served by the poller, with no goroutine while idle.
# TYPE epchat_connections_polled gauge
epchat_connections_polled{hub="a"} 40
# HELP epchat_connections_opened_total WebSocket upgrades accepted.
# TYPE epchat_connections_opened_total counter
epchat_connections_opened_total{hub="a"} 2
# HELP epchat_connections_refused_total WebSocket upgrades refused with 503 at a connection limit (in total or per address).
# TYPE epchat_connections_refused_total counter
epchat_connections_refused_total{hub="a"} 38
# HELP epchat_connections_closed_total WebSocket connections ended, by reason: client, identify_timeout, ping_timeout, slow, protocol, shutdown, policy, other.
# TYPE epchat_connections_closed_total counter
epchat_connections_closed_total{hub="a",reason="client"} 3
epchat_connections_closed_total{hub="a",reason="identify_timeout"} 4
epchat_connections_closed_total{hub="a",reason="ping_timeout"} 5
epchat_connections_closed_total{hub="a",reason="slow"} 6
epchat_connections_closed_total{hub="a",reason="protocol"} 7
epchat_connections_closed_total{hub="a",reason="shutdown"} 8
epchat_connections_closed_total{hub="a",reason="policy"} 39
epchat_connections_closed_total{hub="a",reason="other"} 9
# HELP epchat_users Sessions known: created minus forgotten and ended by this process.
# TYPE epchat_users gauge
epchat_users{hub="a"} 10
# HELP epchat_users_created_total Sessions created by a hello with a nickname.
# TYPE epchat_users_created_total counter
epchat_users_created_total{hub="a"} 11
# HELP epchat_users_resumed_total Hellos that came back with a valid session token.
# TYPE epchat_users_resumed_total counter
epchat_users_resumed_total{hub="a"} 12
# HELP epchat_users_forgotten_total Users forgotten after the user idle timeout, or the seatless user timeout.
# TYPE epchat_users_forgotten_total counter
epchat_users_forgotten_total{hub="a"} 13
# HELP epchat_users_ended_total Sessions their users ended with end_session.
# TYPE epchat_users_ended_total counter
epchat_users_ended_total{hub="a"} 41
# HELP epchat_rooms Rooms open: opened minus closed by this process.
# TYPE epchat_rooms gauge
epchat_rooms{hub="a"} 14
# HELP epchat_rooms_served Rooms at least one connection of this process receives the events of.
# TYPE epchat_rooms_served gauge
epchat_rooms_served{hub="a"} 15
# HELP epchat_rooms_opened_total Rooms opened by a create request or by the host application.
# TYPE epchat_rooms_opened_total counter
epchat_rooms_opened_total{hub="a"} 16
# HELP epchat_rooms_closed_total Rooms closed, by reason: owner, idle, empty, host, shutdown, lost.
# TYPE epchat_rooms_closed_total counter
epchat_rooms_closed_total{hub="a",reason="owner"} 17
epchat_rooms_closed_total{hub="a",reason="idle"} 18
epchat_rooms_closed_total{hub="a",reason="empty"} 19
epchat_rooms_closed_total{hub="a",reason="host"} 20
epchat_rooms_closed_total{hub="a",reason="shutdown"} 21
epchat_rooms_closed_total{hub="a",reason="lost"} 44
# HELP epchat_rooms_locked_total Rooms locked by their owner or the host application.
# TYPE epchat_rooms_locked_total counter
epchat_rooms_locked_total{hub="a"} 42
# HELP epchat_rooms_unlocked_total Rooms unlocked by their owner or the host application.
# TYPE epchat_rooms_unlocked_total counter
epchat_rooms_unlocked_total{hub="a"} 43
# HELP epchat_members Seats taken now, in every room.
# TYPE epchat_members gauge
epchat_members{hub="a"} 22
# HELP epchat_members_joined_total Seats taken: room creators and redeemed invites.
# TYPE epchat_members_joined_total counter
epchat_members_joined_total{hub="a"} 23
# HELP epchat_members_left_total Members who left a room, by reason: left, disconnected, kicked.
# TYPE epchat_members_left_total counter
epchat_members_left_total{hub="a",reason="left"} 24
epchat_members_left_total{hub="a",reason="disconnected"} 25
epchat_members_left_total{hub="a",reason="kicked"} 41
# HELP epchat_messages_total Messages relayed (send requests accepted).
# TYPE epchat_messages_total counter
epchat_messages_total{hub="a"} 26
# HELP epchat_histories_total History requests relayed.
# TYPE epchat_histories_total counter
epchat_histories_total{hub="a"} 27
# HELP epchat_deliveries_total Room events queued to connections, once per receiving connection.
# TYPE epchat_deliveries_total counter
epchat_deliveries_total{hub="a"} 28
# HELP epchat_received_bytes_total Bytes read from WebSocket connections, frame headers included.
# TYPE epchat_received_bytes_total counter
epchat_received_bytes_total{hub="a"} 29
# HELP epchat_sent_bytes_total Bytes written to WebSocket connections, frame headers included.
# TYPE epchat_sent_bytes_total counter
epchat_sent_bytes_total{hub="a"} 30
# HELP epchat_invites_made_total Invites made by owners and by the host application.
# TYPE epchat_invites_made_total counter
epchat_invites_made_total{hub="a"} 31
# HELP epchat_invites_redeemed_total Invites redeemed by a join.
# TYPE epchat_invites_redeemed_total counter
epchat_invites_redeemed_total{hub="a"} 32
# HELP epchat_invites_expired_total Invites deleted unused after their TTL.
# TYPE epchat_invites_expired_total counter
epchat_invites_expired_total{hub="a"} 33
# HELP epchat_invites_refused_total Joins whose invite was refused (invalid, room full, already a member, too many rooms).
# TYPE epchat_invites_refused_total counter
epchat_invites_refused_total{hub="a"} 34
# HELP epchat_errors_total Error events sent to clients, by protocol error code.
# TYPE epchat_errors_total counter
epchat_errors_total{code="not_found",hub="a"} 35
epchat_errors_total{code="room_full",hub="a"} 36
# HELP epchat_hook_calls_dropped_total Hook calls dropped because the hook queue was full or the Hub had shut down.
# TYPE epchat_hook_calls_dropped_total counter
epchat_hook_calls_dropped_total{hub="a"} 37
`
	c := epchatprom.NewCollector(fixedStats(s), epchatprom.WithConstLabels(prometheus.Labels{"hub": "a"}))
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
	problems, err := testutil.CollectAndLint(c)
	if err != nil || len(problems) > 0 {
		t.Fatalf("lint: %v %+v", err, problems)
	}
}

// A field added to Stats is not forgotten: every number in a Stats filled
// with distinct values shows up among the metrics' values.
func TestCollectorCoversStats(t *testing.T) {
	var s epchat.Stats
	next := 1.0
	var want []float64
	var fill func(v reflect.Value)
	fill = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Struct:
			for i := range v.NumField() {
				fill(v.Field(i))
			}
		case reflect.Int64:
			v.SetInt(int64(next))
			want, next = append(want, next), next+1
		case reflect.Uint64:
			v.SetUint(uint64(next))
			want, next = append(want, next), next+1
		case reflect.Map:
			m := reflect.MakeMap(v.Type())
			m.SetMapIndex(reflect.ValueOf("some_code"), reflect.ValueOf(uint64(next)))
			v.Set(m)
			want, next = append(want, next), next+1
		default:
			t.Fatalf("Stats has a field of kind %s: teach this test and the collector", v.Kind())
		}
	}
	fill(reflect.ValueOf(&s).Elem())

	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(epchatprom.NewCollector(fixedStats(s)))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[float64]int{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			switch {
			case m.GetCounter() != nil:
				got[m.GetCounter().GetValue()]++
			case m.GetGauge() != nil:
				got[m.GetGauge().GetValue()]++
			}
		}
	}
	for _, v := range want {
		if got[v] != 1 {
			t.Errorf("Stats value %v is exported %d times, want once", v, got[v])
		}
	}
}

// The metrics follow a real Hub through a session over WebSockets.
func TestCollectorFollowsASession(t *testing.T) {
	hub, err := epchat.New()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(hub)
	t.Cleanup(func() {
		hub.Shutdown(context.Background())
		srv.Close()
	})
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/"
	c := epchatprom.NewCollector(hub)

	ana, ben := epchattest.Dial(t, url), epchattest.Dial(t, url)
	ana.Hello("Ana")
	ben.Hello("Ben")
	room := ana.MustCall("joined", map[string]any{"type": "create"}).Str("room")
	tok := ana.MustCall("invite", map[string]any{"type": "invite", "room": room}).Str("token")
	ben.MustCall("joined", map[string]any{"type": "join", "token": tok})
	for range 2 {
		ana.MustCall("sent", map[string]any{"type": "send", "room": room, "text": "hi"})
		ben.Expect("message", room)
	}
	if err := testutil.CollectAndCompare(c, strings.NewReader(`
# HELP epchat_connections WebSocket connections open now, identified or not.
# TYPE epchat_connections gauge
epchat_connections 2
# HELP epchat_messages_total Messages relayed (send requests accepted).
# TYPE epchat_messages_total counter
epchat_messages_total 2
# HELP epchat_rooms Rooms open: opened minus closed by this process.
# TYPE epchat_rooms gauge
epchat_rooms 1
# HELP epchat_members Seats taken now, in every room.
# TYPE epchat_members gauge
epchat_members 2
`), "epchat_connections", "epchat_messages_total", "epchat_rooms", "epchat_members"); err != nil {
		t.Fatal(err)
	}

	ana.MustCall("ok", map[string]any{"type": "close", "room": room})
	ben.Expect("room_closed", room)
	if err := testutil.CollectAndCompare(c, strings.NewReader(`
# HELP epchat_rooms Rooms open: opened minus closed by this process.
# TYPE epchat_rooms gauge
epchat_rooms 0
# HELP epchat_rooms_closed_total Rooms closed, by reason: owner, idle, empty, host, shutdown, lost.
# TYPE epchat_rooms_closed_total counter
epchat_rooms_closed_total{reason="owner"} 1
epchat_rooms_closed_total{reason="idle"} 0
epchat_rooms_closed_total{reason="empty"} 0
epchat_rooms_closed_total{reason="host"} 0
epchat_rooms_closed_total{reason="shutdown"} 0
epchat_rooms_closed_total{reason="lost"} 0
`), "epchat_rooms", "epchat_rooms_closed_total"); err != nil {
		t.Fatal(err)
	}
}
