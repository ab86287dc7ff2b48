package redisstore

import (
	"testing"

	"github.com/epchat-go/epchat"
	"github.com/epchat-go/epchat/storetest"
)

// TestStoreContract runs the conformance suite on the test Redis, every rule
// on a store of its own key prefix.
func TestStoreContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) epchat.Store { return newStore(t) })
}

// BenchmarkStoretest measures the Hub's hot-path calls with the workload
// every store is measured with (BenchmarkMemoryStore in storetest), so the
// figures compare.
func BenchmarkStoretest(b *testing.B) {
	storetest.Benchmark(b, func(b *testing.B) epchat.Store { return newStore(b) })
}
