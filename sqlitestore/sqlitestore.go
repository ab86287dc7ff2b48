// Package sqlitestore is an epchat.Store kept in an SQLite database that
// lives in the process's memory only.
//
// It is for hosts that want SQL's transactions and constraints under the
// Store rather than maps and a mutex, without giving up epchat's promise
// that nothing touches the disk: the database is an in-memory database of
// SQLite's memdb VFS, never a file, and it is freed by Close (or when the
// process ends). The SQLite engine is modernc.org/sqlite, a translation of
// SQLite's C code to Go: no cgo.
//
//	s, err := sqlitestore.New()
//	if err != nil { ... }
//	defer s.Close()
//	hub, err := epchat.New(epchat.WithStore(s))
//
// Every rule of the Store contract that spans several rows is one SQLite
// transaction begun with BEGIN IMMEDIATE (or one statement), so the
// database's write lock, not a check in Go followed by a write, settles
// races. A Store is safe for concurrent use.
package sqlitestore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"net/url"
	"sync"
	"time"

	"github.com/epchat-go/epchat"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// Store is an epchat.Store in an in-memory SQLite database. Make one with
// New and release it with Close. It is safe for concurrent use.
type Store struct {
	name string // the memdb database name, unique to this Store
	db   *sql.DB
	// keep holds one connection open for the Store's whole life: SQLite
	// frees a memdb database when its last connection closes, and
	// database/sql may close idle connections whenever it likes.
	keep *sql.Conn
	// wlock and rlock take turns between writers, and let readers share.
	// SQLite would serialize the writers anyway, but by making a waiting
	// connection sleep and retry (busy_timeout); waiting on a Go lock is
	// far cheaper. Correctness does not rest on them: see the tests that
	// run the contract suite with both replaced by no-ops.
	wlock, rlock sync.Locker
	st           statements
	closed       bool // guarded by wlock
}

var _ epchat.InProcessStore = (*Store)(nil)

type config struct {
	conns  int
	noLock bool // tests only: leave every race to SQLite's own locks
}

// Option configures New.
type Option func(*config)

// WithConns sets how many database connections the Store's calls use; the
// default is 1. Writes take turns whatever the number; reads (UserByToken,
// Room, Rooms, UserRooms) may run side by side on up to n connections.
// SQLite's memdb takes one mutex per page access, so this buys little: on
// a 2-core machine the benchmarks (see README.md) could not tell 1 from 4
// apart beyond noise. Raise n only if a benchmark on your machine says so.
// n must be at least 1.
func WithConns(n int) Option {
	return func(c *config) { c.conns = n }
}

// New opens a new, empty Store in a uniquely named in-memory database.
func New(opts ...Option) (*Store, error) {
	cfg := config{conns: 1}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.conns < 1 {
		return nil, fmt.Errorf("sqlitestore: WithConns(%d): need at least 1 connection", cfg.conns)
	}
	name := "/epchat-" + rand.Text()
	db, err := sql.Open("sqlite", dsn(name))
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: open: %w", err)
	}
	// The keeper connection counts against the limit too. Connections
	// live as long as the Store: none is closed for age or idleness.
	db.SetMaxOpenConns(cfg.conns + 1)
	db.SetMaxIdleConns(cfg.conns + 1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	s := &Store{name: name, db: db}
	if cfg.noLock {
		s.wlock, s.rlock = noLock{}, noLock{}
	} else {
		var mu sync.RWMutex
		s.wlock, s.rlock = &mu, mu.RLocker()
	}
	ctx := context.Background()
	if s.keep, err = db.Conn(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlitestore: connect: %w", err)
	}
	if _, err := s.keep.ExecContext(ctx, schema); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlitestore: create schema: %w", err)
	}
	if err := s.st.prepare(ctx, db); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlitestore: prepare: %w", err)
	}
	return s, nil
}

// dsn is the data source name of the in-memory database name (which must
// begin with "/" for SQLite to share it between connections).
//
//   - vfs=memdb: the database is a memdb database, shared by every
//     connection of this process that names it, and by no other process.
//     Its rollback journal is kept in memory too.
//   - temp_store(memory): temporary tables and indices, which SQLite may
//     make for a large sort, stay in memory rather than in temporary files.
//   - _txlock=immediate: every transaction begins with BEGIN IMMEDIATE, so
//     it holds the write lock from its first read and two transactions
//     never both act on what they read.
//   - busy_timeout: with the Go locks of Store, SQLite's own lock is never
//     contended; without them, a connection waits for it this long.
func dsn(name string) string {
	q := url.Values{}
	q.Set("vfs", "memdb")
	q.Set("_txlock", "immediate")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "temp_store(memory)")
	return "file:" + name + "?" + q.Encode()
}

// InProcess implements epchat.InProcessStore: the database is in this
// process's memory, and a call waits only for the CPU and the database's
// lock. The Hub then makes its calls on its poller's workers as they are.
func (s *Store) InProcess() bool { return true }

// Close frees the database and everything in it, once every call under way
// has returned. Calls after Close fail; a second Close does nothing.
func (s *Store) Close() error {
	s.wlock.Lock()
	defer s.wlock.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	errs := []error{s.st.close()}
	if s.keep != nil {
		errs = append(errs, s.keep.Close())
	}
	errs = append(errs, s.db.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sqlitestore: close: %w", err)
	}
	return nil
}

// noLock is a sync.Locker that does not lock.
type noLock struct{}

func (noLock) Lock()   {}
func (noLock) Unlock() {}

// write runs fn in a transaction begun with BEGIN IMMEDIATE, and commits it
// if fn returns nil.
func (s *Store) write(ctx context.Context, op string, fn func(tx *sql.Tx) error) error {
	s.wlock.Lock()
	defer s.wlock.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlitestore: %s: begin: %w", op, err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlitestore: %s: commit: %w", op, err)
	}
	return nil
}

// fail wraps an error of the database with the name of the Store call.
func fail(op string, err error) error {
	return fmt.Errorf("sqlitestore: %s: %w", op, err)
}

// Instants are kept as nanoseconds since the Unix epoch, which is exact for
// the years 1678 to 2262. The zero time.Time, which the Store contract uses
// for "never" (a DetachedAt of a user who never detached), is kept as the
// smallest int64, so it stays before every other instant.
var (
	minInstant = time.Unix(0, math.MinInt64+1)
	maxInstant = time.Unix(0, math.MaxInt64)
)

// nanos encodes t; instants outside the exact range are clamped to it.
func nanos(t time.Time) int64 {
	switch {
	case t.IsZero():
		return math.MinInt64
	case t.Before(minInstant):
		return math.MinInt64 + 1
	case t.After(maxInstant):
		return math.MaxInt64
	}
	return t.UnixNano()
}

// instant decodes what nanos encoded, in UTC.
func instant(n int64) time.Time {
	if n == math.MinInt64 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}
