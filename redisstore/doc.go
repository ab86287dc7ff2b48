// Package redisstore is an epchat.Store kept in Redis, so that several Hub
// processes behind a load balancer serve one set of rooms: every rule (one
// use per invite, the member limit, the pending-invite cap, hand-over to the
// earliest joined member, idle close) holds across the processes.
//
// Wire it into each process:
//
//	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
//	store, err := redisstore.New(rdb, redisstore.WithPrefix("chat"))
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer store.Close()
//	broker, err := redisstore.NewBroker(rdb, redisstore.WithPrefix("chat"))
//	if err != nil {
//		log.Fatal(err)
//	}
//	hub, err := epchat.New(epchat.WithStore(store), epchat.WithBroker(broker))
//
// Several processes need a Broker too (epchat.WithBroker): the Store keeps
// the rules, the Broker carries each room's events to the members connected
// to the other processes; Broker is one on Redis pub/sub, with a
// subscription per room a process serves. A Hub without a
// Broker also takes itself for the only process: its Shutdown closes every
// room of the deployment.
//
// The Hub gives Store calls no deadline of their own: the client's
// timeouts bound them (go-redis: 5 s to dial, 3 s to read or write, by
// default). Keep them short, so that a lost Redis fails calls fast.
//
// # Nothing persisted
//
// Rooms are ephemeral and Redis should not write them to disk: run it with
// snapshots and the append-only file off, and without eviction (the default
// policy), which would break the rules by dropping keys:
//
//	redis-server --save '' --appendonly no --maxmemory-policy noeviction
//
// New refuses a Redis that writes to disk, or whose settings it cannot
// read, unless WithPersistenceAllowed.
//
// The Store never sees message bodies (Message only counts); it keeps ids,
// nicknames, the hashes of session and invite tokens, and times.
//
// # Atomic rules
//
// Every method that changes something is one call of a Redis function
// (one library, loaded by New with FUNCTION LOAD; Redis 7), so every rule
// that spans several records is one atomic step on the server, whatever
// the number of processes. All keys of a deployment start with "{name}:"
// (WithPrefix): the braces make it a Redis Cluster hash tag, so the
// functions, which touch rooms, users and invites together, work on a
// Cluster too (a *redis.ClusterClient; tested on 3 masters), one
// deployment on one slot.
//
// # Faults
//
// Message is idempotent (a call sent again after a lost reply takes no
// second seq and publishes once) and, through the Broker, publishes the
// message in the same step as it takes the seq. The Broker is an
// epchat.MessageBatcher: the Hub sends a busy room's messages in batches,
// one call and one publish for many, with the same guarantees. A call
// that cannot reach Redis fails with an error wrapping
// epchat.ErrUnavailable. Redis keeps an
// epoch key that every call checks: a Store that finds it changed (Redis
// restarted empty, or flushed) tells the Hub (WatchLoss), which closes
// its rooms and connections. See the README's Faults.
//
// # Time
//
// The Store compares the times the Hub passes in, never Redis's clock.
// Times are kept to the nanosecond (sorted-set indexes hold milliseconds,
// and the scripts settle the last millisecond exactly). Invite keys carry a
// TTL of one hour after their expiry, as a garbage backstop only; the rule
// is ExpiresAt against the now of each call. Times before 1970 are kept as
// 1970.
//
// # Processes and their connections
//
// A user's Conns is counted per process: each Store has a random node id
// (Node) and Attach and Detach count on it. Each process beats a heartbeat
// into Redis every third of the node timeout (WithNodeTimeout, 15 s by
// default). A process whose heartbeat is older than the node timeout is
// taken for dead by the next live process that beats: its connections are
// counted as gone since its last heartbeat (Conns drops, DetachedAt and
// SeenAt become that heartbeat), so VacateUsers frees its members one
// reconnect grace after its death and ForgetUsers forgets them after the
// seatless or the user idle timeout, as if they had closed their
// connections then. Keep
// the node timeout below the Hub's reconnect grace; with a shorter grace,
// members of a dead process are freed only when it is taken for dead. The
// processes' clocks must agree to well within the node timeout (NTP).
//
// The connections of a dead process are set aside, not deleted: should the
// process only have stalled (a long pause, a partition), its next heartbeat
// counts them again, less those it closed meanwhile. Seats it lost to
// VacateUsers in between stay lost.
//
// By default New starts a goroutine that beats with the wall clock; Close
// stops it. A host that drives the Hub with its own clock (epchat.WithClock)
// passes WithManualHeartbeat and calls Heartbeat with that clock instead, so
// that heartbeats and sweeps agree on the time.
//
// # Sweeps
//
// CloseIdleRooms, VacateUsers, ForgetUsers and ExpireInvites may run in
// every process at the same moment: they walk sorted sets of rooms by
// ActiveAt, of offline seated users by DetachedAt, of offline users by
// SeenAt and of invites by ExpiresAt, and act in scripts that re-check
// each item and take it off its index, so each item is returned by exactly
// one caller.
package redisstore
