// Package epchat serves ephemeral chat rooms over WebSockets: rooms that
// leave nothing behind.
//
// The server is only an event dispatcher. No message is stored, logged or
// written to disk; rooms, members and invites live in memory and vanish
// when the room closes. Message text is opaque to the server, so clients
// may encrypt it end to end (the demo page in examples/ does, with the Web
// Crypto API).
//
// # Mounting the Hub
//
// A Hub is an http.Handler that upgrades every request to a WebSocket
// (with github.com/gobwas/ws). Mount it under any prefix of the host
// application's mux, and stop it with Shutdown:
//
//	hub, err := epchat.New()
//	if err != nil {
//		log.Fatal(err)
//	}
//	mux := http.NewServeMux()
//	mux.Handle("/chat/", http.StripPrefix("/chat", hub))
//	srv := &http.Server{Addr: ":8080", Handler: mux, ReadHeaderTimeout: 10 * time.Second}
//	go srv.ListenAndServe()
//	// ...
//	srv.Shutdown(ctx) // stops new requests; does not touch WebSockets
//	hub.Shutdown(ctx) // closes every WebSocket with 1001
//
// Both ways of serving admit a request the same way (SECURITY.md): set
// [WithAllowedHosts] to the names you serve, against DNS rebinding, and
// behind a reverse proxy that terminates TLS, [WithTrustForwardedProto],
// or the browsers' https origins are refused.
//
// A host that gives chat a listener of its own can call [Hub.Serve]
// instead, which upgrades with gobwas/ws's zero-copy upgrader. Idle
// connections are watched with epoll and hold no goroutine and no buffer,
// about 1.5 KB of memory each in all ([WithNetpoll]; README, Performance).
//
// Clients then speak the JSON protocol of PROTOCOL.md: hello (pick a
// nickname, get a session token), create a room, invite with a one-time
// token valid five minutes, join, send, leave, close; and for the owner
// kick, lock and unlock. A page may check_invite before hello, to tell
// someone that a link is used or expired before asking for a nickname.
//
// # The rules
//
// A room has at most 10 seats ([WithMaxMembers]). Only its owner invites,
// kicks, locks and closes it; when the owner leaves, ownership passes to
// the earliest-joined member. A kick frees the seat at once and revokes
// every invite pending in the room, so nobody comes back through a link
// made before it; a locked room takes no new invite and no join (the
// invite is kept for after unlock), and its members stay. A room with no message for 10 minutes closes
// ([WithRoomIdleTimeout]); so does a room whose last member leaves. A user
// whose connection drops keeps their seats for 30 seconds
// ([WithReconnectGrace]) and comes back with the session token; a user in
// no room is forgotten 10 minutes after its last connection
// ([WithSeatlessUserTimeout]), one still seated after 5 days without
// activity ([WithUserIdleTimeout]), and any at once when it sends
// end_session. Remembered users are capped per client address and in
// total ([WithMaxUsersPerAddr], [WithMaxUsers]), and the connections of
// one session ([WithMaxSessionConnections]). Every time rule
// runs on the [Clock], which tests replace ([WithClock]).
//
// # Acting from the host application
//
// [Hub.CreateRoom] opens a room together with one-time invites for its
// owner and first members, for example a help-desk application opening a
// room for a ticket; [Hub.CloseRoom] closes one; [Hub.KickMember],
// [Hub.LockRoom] and [Hub.UnlockRoom] moderate one as its owner would;
// [Hub.Rooms] lists them.
//
// # Writing a Store
//
// Rooms, members, invites and users live in a [Store]: [MemoryStore] by
// default. A Store holds no connections and makes each multi-record rule
// one atomic call, so that several Hub processes can share one. The
// contract is on the interface, in four parts: [UserStore], [RoomStore],
// [SeatStore] and [SweepStore]; the storetest package checks an
// implementation against it:
//
//	func TestMyStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) epchat.Store { return mystore.New() })
//	}
//
// Every rule that spans several records (redeem and seat, the seat limit,
// the close cascade, a kick and its revoked invites, the sweeps) is one
// atomic call, never a read followed
// by a write; a Store never reads the clock but acts at the instant it is
// given; errors are this package's sentinels. The sqlitestore module is a
// worked example on an in-memory SQLite database.
//
// A Store's calls may wait (a network round trip): the Hub takes every
// Store but an [InProcessStore] to do so, and before a request calls it,
// starts another of its poller's workers if needed, so that a request
// waiting for its Store holds up only its own connection (and room), never
// the reading of the others.
//
// # Several processes
//
// Hub processes that share a Store (redisstore) also need a [Broker]
// ([WithBroker]) to carry room events between them; the redisstore module
// has one on Redis pub/sub. A Broker that keeps the rooms' seqs with the
// Store ([MessagePublisher]) takes a message's seq and publishes it in one
// step; one that records several at once ([MessageBatcher]) has the Hub
// gather a busy room's sends into batches, each one call, made by a
// goroutine of the room rather than the poller worker that read the send.
//
// # Telemetry
//
// [Hub.Stats] returns counts, and [WithHooks] calls the host when rooms
// open and close and members come and go: ids, counts and reasons only.
//
// # Privacy
//
// The Hub logs ([WithLogger]) ids, counts and reasons only: never message
// text, nicknames, tokens or keys. Tokens are stored as SHA-256 hashes.
package epchat
