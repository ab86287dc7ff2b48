package storetest_test

import (
	"testing"

	"github.com/epchat-go/epchat"
	"github.com/epchat-go/epchat/storetest"
)

// TestMemoryStore checks the default store against the contract.
func TestMemoryStore(t *testing.T) {
	storetest.Run(t, func(*testing.T) epchat.Store { return epchat.NewMemoryStore() })
}

// BenchmarkMemoryStore gives the figures other stores compare with.
func BenchmarkMemoryStore(b *testing.B) {
	storetest.Benchmark(b, func(*testing.B) epchat.Store { return epchat.NewMemoryStore() })
}
