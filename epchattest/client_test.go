package epchattest_test

import "testing"

// TestChat runs the package example.
func TestChat(t *testing.T) { testChat(t) }
