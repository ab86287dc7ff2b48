package sqlitestore_test

import (
	"testing"

	"github.com/epchat-go/epchat"
	"github.com/epchat-go/epchat/sqlitestore"
	"github.com/epchat-go/epchat/storetest"
)

// open returns a new Store made by newStore, closed when t ends.
func open(t testing.TB, newStore func(...sqlitestore.Option) (*sqlitestore.Store, error), opts ...sqlitestore.Option) *sqlitestore.Store {
	t.Helper()
	s, err := newStore(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) epchat.Store { return open(t, sqlitestore.New) })
}

// TestStoreFourConns runs the suite with reads spread over a pool.
func TestStoreFourConns(t *testing.T) {
	storetest.Run(t, func(t *testing.T) epchat.Store { return open(t, sqlitestore.New, sqlitestore.WithConns(4)) })
}

// TestStoreWithoutGoLocks runs the suite, its races included, with the
// Store's Go locks turned off and four connections: what keeps the rules
// atomic is then SQLite's transactions alone.
func TestStoreWithoutGoLocks(t *testing.T) {
	storetest.Run(t, func(t *testing.T) epchat.Store {
		return open(t, sqlitestore.NewWithoutGoLocks, sqlitestore.WithConns(4))
	})
}
