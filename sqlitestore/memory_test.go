package sqlitestore_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/epchat-go/epchat"
	"github.com/epchat-go/epchat/sqlitestore"
)

var t0 = time.Date(2001, time.February, 3, 4, 5, 6, 0, time.UTC)

func user(id string) epchat.User {
	return epchat.User{
		ID:       id,
		Nickname: "nick of " + id,
		Token:    sha256.Sum256([]byte("session " + id)),
		SeenAt:   t0,
	}
}

// TestBareMemoryIsPerConnection shows the trap the Store avoids: through
// database/sql, every new connection to ":memory:" is a new, empty
// database, so a pool of them is several databases.
func TestBareMemoryIsPerConnection(t *testing.T) {
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := t.Context()
	c1, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	c2, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if _, err := c1.ExecContext(ctx, "CREATE TABLE t (x)"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := c2.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("a second connection to :memory: sees %d tables; this test's premise is wrong", n)
	}
}

// TestOneDatabase checks that every connection of a Store's pool, and many
// calls racing over them, see one database.
func TestOneDatabase(t *testing.T) {
	const conns = 4
	s := open(t, sqlitestore.New, sqlitestore.WithConns(conns))
	ctx := t.Context()
	const n = 32
	errs := make(chan error, n*n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if err := s.CreateUser(ctx, user(fmt.Sprint("u", i)), 0); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	// Every goroutine reads every user back; the reads run side by side on
	// the pool's connections.
	for range n {
		wg.Go(func() {
			for j := range n {
				if _, err := s.UserByToken(ctx, user(fmt.Sprint("u", j)).Token); err != nil {
					errs <- fmt.Errorf("user u%d: %w", j, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("open connections after the race: %d", s.Stats().OpenConnections)

	// Now hold every connection of the pool at once and ask each.
	held := make([]*sql.Conn, conns)
	for i := range held {
		c, err := s.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held[i] = c
	}
	for i, c := range held {
		var users int
		if err := c.QueryRowContext(ctx, "SELECT count(*) FROM users").Scan(&users); err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		if users != n {
			t.Fatalf("connection %d sees %d users, want %d", i, users, n)
		}
	}
	if got := s.Stats().OpenConnections; got != conns+1 {
		t.Fatalf("%d open connections, want %d (the pool and the keeper)", got, conns+1)
	}
}

// TestStoresApart checks that two Stores are two databases.
func TestStoresApart(t *testing.T) {
	a := open(t, sqlitestore.New)
	b := open(t, sqlitestore.New)
	if a.Name() == b.Name() {
		t.Fatalf("two stores share the database name %q", a.Name())
	}
	u := user("ana")
	if err := a.CreateUser(t.Context(), u, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := b.UserByToken(t.Context(), u.Token); !errors.Is(err, epchat.ErrNotFound) {
		t.Fatalf("the other store found a's user: %v", err)
	}
}

// TestCloseFreesDatabase checks that after Close the database is gone: a
// new connection by its name finds an empty one.
func TestCloseFreesDatabase(t *testing.T) {
	s, err := sqlitestore.New()
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := s.CreateUser(ctx, user("ana"), 0); err != nil {
		t.Fatal(err)
	}
	count := func(query string) int {
		t.Helper()
		db, err := sql.Open("sqlite", sqlitestore.DSN(s.Name()))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var n int
		if err := db.QueryRowContext(ctx, query).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// The name reaches the Store's database while it is open...
	if n := count("SELECT count(*) FROM users"); n != 1 {
		t.Fatalf("the store's database has %d users, want 1", n)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// ... and an empty one after Close.
	if n := count("SELECT count(*) FROM sqlite_schema"); n != 0 {
		t.Fatalf("after Close the database still has %d tables", n)
	}
	if _, err := s.UserByToken(ctx, user("ana").Token); err == nil || errors.Is(err, epchat.ErrNotFound) {
		t.Fatalf("UserByToken after Close = %v, want a failure of the store", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// TestNoFile runs a heavy workload (large transactions, sweeps of
// thousands of rows) with a fresh working directory and temp directories,
// while a goroutine watches /proc/self/fd: no regular file may be opened,
// not even a temporary one deleted at once, and the directories stay empty.
func TestNoFile(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("watches /proc/self/fd")
	}
	work, tmp := t.TempDir(), t.TempDir()
	t.Chdir(work)
	t.Setenv("TMPDIR", tmp)
	t.Setenv("SQLITE_TMPDIR", tmp)

	before := regularFiles(t)
	var (
		mu      sync.Mutex
		opened  = map[string]bool{}
		scans   int
		stop    = make(chan struct{})
		watcher sync.WaitGroup
	)
	watcher.Go(func() {
		for {
			for fd, target := range regularFiles(t) {
				if before[fd] != target {
					mu.Lock()
					opened[target] = true
					mu.Unlock()
				}
			}
			scans++
			select {
			case <-stop:
				return
			default:
			}
		}
	})

	s := open(t, sqlitestore.New)
	workload(t, s)
	close(stop)
	watcher.Wait()
	t.Logf("/proc/self/fd scanned %d times during the workload", scans)
	if len(opened) > 0 {
		t.Errorf("regular files opened while the store worked: %q", slices.Sorted(maps.Keys(opened)))
	}
	for _, dir := range []string{work, tmp} {
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			t.Errorf("file %s appeared", filepath.Join(dir, e.Name()))
		}
	}
}

// regularFiles maps the process's open file descriptors that are regular
// files to what they point at.
func regularFiles(t *testing.T) map[string]string {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Error(err)
		return nil
	}
	out := make(map[string]string)
	for _, e := range ents {
		p := filepath.Join("/proc/self/fd", e.Name())
		fi, err := os.Stat(p)
		if err != nil || !fi.Mode().IsRegular() {
			continue // closed meanwhile, or a pipe, socket, directory, device
		}
		target, _ := os.Readlink(p)
		if strings.HasPrefix(target, "anon_inode:") {
			continue // epoll and eventfd descriptors of the runtime pass for regular
		}
		out[e.Name()] = target
	}
	return out
}

// workload gives s large transactions to run: thousands of users and seats,
// then sweeps that delete them in one transaction each.
func workload(t *testing.T, s *sqlitestore.Store) {
	ctx := context.Background()
	const (
		rooms   = 300
		members = 10
	)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for r := range rooms {
		for m := range members {
			must(s.CreateUser(ctx, user(fmt.Sprintf("r%du%d", r, m)), 0))
		}
		owner := epchat.Member{ID: fmt.Sprintf("r%du0", r), Nickname: "owner", JoinedAt: t0}
		room := epchat.Room{ID: fmt.Sprint("r", r), Owner: owner.ID, Limit: members, CreatedAt: t0, ActiveAt: t0}
		must(s.CreateRoom(ctx, room, &owner, 0))
		for m := 1; m < members; m++ {
			tok := sha256.Sum256(fmt.Appendf(nil, "invite %d %d", r, m))
			must(s.CreateInvite(ctx, epchat.Invite{Token: tok, Room: room.ID, ExpiresAt: t0.Add(time.Hour)}, owner.ID, t0))
			_, err := s.Redeem(ctx, tok, epchat.Member{ID: fmt.Sprintf("r%du%d", r, m), Nickname: fmt.Sprint("m", m), JoinedAt: t0}, t0, 0)
			must(err)
		}
		_, err := s.Message(ctx, room.ID, owner.ID, t0.Add(time.Duration(r)*time.Second))
		must(err)
	}
	if infos, err := s.Rooms(ctx); err != nil || len(infos) != rooms {
		t.Fatalf("Rooms: %d, %v", len(infos), err)
	}
	closed, err := s.CloseIdleRooms(ctx, t0.Add(rooms/2*time.Second))
	must(err)
	ds, err := s.ForgetUsers(ctx, t0.Add(time.Hour), t0.Add(time.Hour))
	must(err)
	if len(closed) != rooms/2 || len(ds) != rooms*members {
		t.Fatalf("closed %d rooms and forgot %d users, want %d and %d", len(closed), len(ds), rooms/2, rooms*members)
	}
}
