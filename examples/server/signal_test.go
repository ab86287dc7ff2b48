package main

import (
	"bytes"
	"errors"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// watcher collects a process's output and tells when a pattern shows.
type watcher struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	re   *regexp.Regexp
	seen chan []string // the first match, once
}

func newWatcher(pattern string) *watcher {
	return &watcher{re: regexp.MustCompile(pattern), seen: make(chan []string, 1)}
}

func (w *watcher) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if w.re != nil {
		if m := w.re.FindStringSubmatch(w.buf.String()); m != nil {
			w.seen <- m
			w.re = nil
		}
	}
	return len(p), nil
}

func (w *watcher) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// A second Ctrl-C ends the demo at once while its shutdown waits (here
// for a client that sent half a request; with a paused Redis it waited
// 32 s): the process dies of the signal instead of exiting when the
// shutdown is done.
func TestSecondSignalExits(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-addr", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "EPCHAT_DEMO_MAIN=1")
	out, logs := newWatcher(`open http://([^/]+)/`), newWatcher(`shutting down`)
	cmd.Stdout, cmd.Stderr = out, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// A safety net, not a timed assertion: a process that ignores both
	// signals fails the test below, instead of hanging it.
	killer := time.AfterFunc(60*time.Second, func() { cmd.Process.Kill() })
	defer killer.Stop()
	var addr string
	select {
	case m := <-out.seen:
		addr = m[1]
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("the demo did not start:\n%s", logs)
	}

	// Half a request holds the HTTP server's shutdown for seconds.
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := nc.Write([]byte("GET / HTTP/1.1\r\nHost: " + addr + "\r\n")); err != nil {
		t.Fatal(err)
	}

	cmd.Process.Signal(os.Interrupt)
	<-logs.seen // the first signal is handled
	cmd.Process.Signal(os.Interrupt)
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("the demo exited with %v after the second Ctrl-C; want it killed by SIGINT\n%s", err, logs)
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGINT {
		t.Fatalf("the demo ended with %v; want it killed by SIGINT\n%s", err, logs)
	}
	if strings.Contains(logs.String(), "panic") {
		t.Errorf("log:\n%s", logs)
	}
}
