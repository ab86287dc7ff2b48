package web_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if a goroutine outlives the tests (a Hub, a
// browser's connection, a harness server left running), and names it.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
