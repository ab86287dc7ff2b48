package epchat

import (
	"errors"
	"io"
	"net"
	"strings"
	"testing"
)

// An upgrade failure is logged by kind only: a network error's text
// carries the peer's address.
func TestUpgradeFailureHidesAddresses(t *testing.T) {
	addr := &net.TCPAddr{IP: net.IPv4(203, 0, 113, 7), Port: 40000}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{
			name: "reset by the peer",
			err:  &net.OpError{Op: "read", Net: "tcp", Source: addr, Err: errors.New("connection reset by peer")},
			want: "network",
		},
		{
			name: "end of stream",
			err:  io.ErrUnexpectedEOF,
			want: "network",
		},
		{
			name: "malformed request",
			err:  errors.New("bad request line"),
			want: "handshake",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := upgradeFailure(tt.err)
			if got != tt.want || strings.Contains(got, "203.0.113.7") {
				t.Fatalf("upgradeFailure(%v) = %q, want %q", tt.err, got, tt.want)
			}
		})
	}
}
