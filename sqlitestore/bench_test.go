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

// BenchmarkStoreFourConns is BenchmarkStore with WithConns(4), to weigh
// the default of one connection.
func BenchmarkStoreFourConns(b *testing.B) {
	storetest.Benchmark(b, func(b *testing.B) epchat.Store {
		return open(b, sqlitestore.New, sqlitestore.WithConns(4))
	})
}
