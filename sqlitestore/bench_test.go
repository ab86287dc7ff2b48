package sqlitestore_test

import (
	"testing"

	"github.com/epchat-go/epchat"
	"github.com/epchat-go/epchat/sqlitestore"
	"github.com/epchat-go/epchat/storetest"
)

// BenchmarkStore measures the Hub's hot-path calls; compare with
// BenchmarkMemoryStore in the storetest package, which runs the same code.
func BenchmarkStore(b *testing.B) {
	storetest.Benchmark(b, func(b *testing.B) epchat.Store { return open(b, sqlitestore.New) })
}

// BenchmarkStoreOneConn is BenchmarkStore with WithConns(1): the parallel
// reads show what the default pool of 4 buys.
func BenchmarkStoreOneConn(b *testing.B) {
	storetest.Benchmark(b, func(b *testing.B) epchat.Store {
		return open(b, sqlitestore.New, sqlitestore.WithConns(1))
	})
}
