package main

import (
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// startDebug serves the runtime profiles (net/http/pprof) on addr, on a
// listener and mux of their own, so that a load test (examples/loadgen)
// can profile the server while it works: for example
//
//	go tool pprof -seconds 10 http://127.0.0.1:6060/debug/pprof/profile
//
// It is off unless -debug-addr is given. Profiles hold no message text,
// but they do reveal the program's internals: keep addr on loopback.
// It returns the address it listens on and a function that stops it.
func startDebug(addr string) (string, func(), error) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return ln.Addr().String(), func() { srv.Close() }, nil
}
