package epchat

import (
	"net/http"
	"testing"
)

func TestHeaderHasToken(t *testing.T) {
	tests := []struct {
		name   string
		values []string
		want   bool
	}{
		{
			name:   "alone",
			values: []string{"Upgrade"},
			want:   true,
		},
		{
			name:   "in a list, any case (Firefox)",
			values: []string{"keep-alive, UPGRADE"},
			want:   true,
		},
		{
			name:   "in a second header line",
			values: []string{"keep-alive", "upgrade"},
			want:   true,
		},
		{
			name:   "absent",
			values: []string{"keep-alive, close"},
			want:   false,
		},
		{
			name:   "a longer token is not it",
			values: []string{"upgrades"},
			want:   false,
		},
		{
			name:   "no header",
			values: nil,
			want:   false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hd := http.Header{"Connection": tt.values}
			if got := headerHasToken(hd, "Connection", "upgrade"); got != tt.want {
				t.Fatalf("headerHasToken(%q) = %v, want %v", tt.values, got, tt.want)
			}
		})
	}
}
