package epchatprom_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if a goroutine outlives the tests, naming it: a
// Hub or Store that was not stopped.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
