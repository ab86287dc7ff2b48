package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestDebugListener checks that -debug-addr serves the profiles, apart
// from the demo's own mux.
func TestDebugListener(t *testing.T) {
	addr, stop, err := startDebug("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	resp, err := http.Get("http://" + addr + "/debug/pprof/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "goroutine") {
		t.Fatalf("GET /debug/pprof/: %d %.80q", resp.StatusCode, body)
	}
}
