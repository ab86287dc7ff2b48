package sqlitestore

import (
	"context"
	"database/sql"
)

// NewWithoutGoLocks is New with the Store's Go locks replaced by no-ops:
// every race is left to SQLite's transactions and locks.
func NewWithoutGoLocks(opts ...Option) (*Store, error) {
	return New(append(opts, func(c *config) { c.noLock = true })...)
}

// Name returns the name of the Store's in-memory database.
func (s *Store) Name() string { return s.name }

// Stats returns the statistics of the Store's connection pool.
func (s *Store) Stats() sql.DBStats { return s.db.Stats() }

// DSN is dsn, for tests that open the Store's database themselves.
var DSN = dsn

// Conn takes a connection of the Store's pool.
func (s *Store) Conn(ctx context.Context) (*sql.Conn, error) { return s.db.Conn(ctx) }
