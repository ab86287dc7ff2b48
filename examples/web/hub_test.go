package web_test

import (
	"context"
	"testing"
	"time"

	"github.com/epchat-go/epchat"
)

// newHub returns a real Hub with its defaults, stopped when the test ends.
func newHub(t *testing.T, opts ...epchat.Option) *epchat.Hub {
	t.Helper()
	hub, err := epchat.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hub.Shutdown(ctx) // an error here means a test shut it down already
	})
	return hub
}
