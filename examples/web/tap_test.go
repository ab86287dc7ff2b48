package web_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/gobwas/ws"
)

// tap is a relay on the wire between the browsers and the server: it
// records every byte that crosses it each way, so a test can check what
// crossed the server, as an eavesdropper on the wire (or the server
// itself) would see it.
//
// It relays rather than wrapping the server's listener so that the Hub
// still gets plain TCP sockets: the poller takes over only a net.Conn that
// is a syscall.Conn, and a wrapped one would put every browser test in
// blocking mode. A harness checks the mode it asked for (checkMode).
type tap struct {
	ln     net.Listener
	target string // the server's address
	wg     sync.WaitGroup

	mu     sync.Mutex
	conns  []*tapConn
	closed bool
}

// newTap starts a relay on a loopback port of its own to the server at
// target. It stops when the test ends.
func newTap(t *testing.T, target string) *tap {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tp := &tap{ln: ln, target: target}
	tp.wg.Go(tp.serve)
	t.Cleanup(tp.close)
	return tp
}

// URL is the address the browsers open: the tap's, not the server's.
func (t *tap) URL() string { return "http://" + t.ln.Addr().String() }

func (t *tap) serve() {
	for {
		client, err := t.ln.Accept()
		if err != nil {
			return // closed
		}
		server, err := net.Dial("tcp", t.target)
		if err != nil {
			client.Close()
			continue
		}
		tc := &tapConn{client: client, server: server}
		t.mu.Lock()
		if t.closed {
			t.mu.Unlock()
			tc.drop()
			return
		}
		t.conns = append(t.conns, tc)
		t.mu.Unlock()
		t.wg.Go(tc.relay)
	}
}

// close stops the relay: no more connections, every one dropped.
func (t *tap) close() {
	t.mu.Lock()
	t.closed = true
	t.mu.Unlock()
	t.ln.Close()
	t.dropAll()
	t.wg.Wait()
}

// dropAll ends every connection relayed so far both ways, as a network
// failure would: no close frame, the TCP connections just end.
func (t *tap) dropAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, c := range t.conns {
		c.drop()
	}
}

// tapConn is one relayed connection and what crossed it.
type tapConn struct {
	client, server net.Conn

	mu        sync.Mutex
	in, out   bytes.Buffer // to the server, from the server
	truncated bool
}

// maxRecorded bounds what one connection records; the tests stay far
// below it.
const maxRecorded = 64 << 20

// relay copies both ways until both ends are done, passing on a half
// close (the WebSocket closing handshake ends with one).
func (c *tapConn) relay() {
	var wg sync.WaitGroup
	wg.Go(func() { c.copy(c.server, c.client, &c.in) })
	c.copy(c.client, c.server, &c.out)
	wg.Wait()
	c.drop()
}

// copy relays src to dst, recording each chunk before passing it on: by
// the time the far end can act on a byte, the tap holds it. At the end of
// src it half-closes dst; on an error it drops the connection.
func (c *tapConn) copy(dst, src net.Conn, rec *bytes.Buffer) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			c.record(rec, buf[:n])
			if _, werr := dst.Write(buf[:n]); werr != nil {
				c.drop()
				return
			}
		}
		if errors.Is(err, io.EOF) {
			dst.(*net.TCPConn).CloseWrite()
			return
		}
		if err != nil {
			c.drop()
			return
		}
	}
}

func (c *tapConn) drop() {
	c.client.Close()
	c.server.Close()
}

func (c *tapConn) record(b *bytes.Buffer, p []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if b.Len()+len(p) > maxRecorded {
		c.truncated = true
		return
	}
	b.Write(p)
}

// capture is what a tap recorded, decoded.
type capture struct {
	// Raw is every byte in both directions, as on the wire.
	Raw []byte
	// Requests are the HTTP requests the server read (request line and
	// headers), one per request.
	Requests []string
	// ClientData and ServerData are the payloads of the WebSocket data
	// frames each way, client frames unmasked, one entry per connection.
	ClientData, ServerData [][]byte
}

// decode parses what the tap recorded: HTTP/1.1 requests and responses
// until a WebSocket upgrade, then frames.
func (t *tap) decode() (*capture, error) {
	t.mu.Lock()
	conns := append([]*tapConn(nil), t.conns...)
	t.mu.Unlock()
	cp := &capture{}
	for i, c := range conns {
		c.mu.Lock()
		in := bytes.Clone(c.in.Bytes())
		out := bytes.Clone(c.out.Bytes())
		truncated := c.truncated
		c.mu.Unlock()
		if truncated {
			return nil, fmt.Errorf("connection %d: recorded more than %d bytes", i, maxRecorded)
		}
		cp.Raw = append(cp.Raw, in...)
		cp.Raw = append(cp.Raw, out...)
		if err := cp.decodeConn(in, out); err != nil {
			return nil, fmt.Errorf("connection %d: %w", i, err)
		}
	}
	return cp, nil
}

func (cp *capture) decodeConn(in, out []byte) error {
	rin := bufio.NewReader(bytes.NewReader(in))
	rout := bufio.NewReader(bytes.NewReader(out))
	for {
		req, err := http.ReadRequest(rin)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading request: %w", err)
		}
		var line strings.Builder
		fmt.Fprintf(&line, "%s %s %s\r\n", req.Method, req.RequestURI, req.Proto)
		req.Header.Write(&line)
		cp.Requests = append(cp.Requests, line.String())
		if _, err := io.Copy(io.Discard, req.Body); err != nil {
			return err
		}
		resp, err := http.ReadResponse(rout, req)
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil // the connection ended before the answer
		}
		if err != nil {
			return fmt.Errorf("reading response: %w", err)
		}
		if resp.StatusCode == http.StatusSwitchingProtocols {
			if ext := resp.Header.Get("Sec-WebSocket-Extensions"); ext != "" {
				return fmt.Errorf("the server negotiated %q: this tap reads only uncompressed frames", ext)
			}
			client, err := readFrames(rin, true)
			if err != nil {
				return fmt.Errorf("client frames: %w", err)
			}
			server, err := readFrames(rout, false)
			if err != nil {
				return fmt.Errorf("server frames: %w", err)
			}
			cp.ClientData = append(cp.ClientData, client)
			cp.ServerData = append(cp.ServerData, server)
			return nil
		}
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return err
		}
		resp.Body.Close()
	}
}

// readFrames concatenates the payloads of the data frames in r, unmasked.
// A recording may end in the middle of a frame; what came before counts.
func readFrames(r io.Reader, masked bool) ([]byte, error) {
	var data []byte
	for {
		h, err := ws.ReadHeader(r)
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return data, nil
		}
		if err != nil {
			return nil, err
		}
		if h.Masked != masked {
			return nil, fmt.Errorf("frame masked=%v, want %v", h.Masked, masked)
		}
		if h.Rsv1() {
			return nil, errors.New("compressed frame: this tap reads only uncompressed frames")
		}
		payload := make([]byte, h.Length)
		n, err := io.ReadFull(r, payload)
		payload = payload[:n]
		if h.Masked {
			ws.Cipher(payload, h.Mask, 0)
		}
		if !h.OpCode.IsControl() {
			data = append(data, payload...)
		}
		if err != nil {
			return data, nil
		}
	}
}

// forms returns what a secret may look like on the wire: as is, in hex,
// and in standard and URL base64 at each of the three alignments an encoder
// could have met it at (only the characters that depend on the secret's
// bits alone, so the form is found wherever the secret was encoded).
func forms(secret []byte) [][]byte {
	out := [][]byte{secret, []byte(hex.EncodeToString(secret))}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
		for shift := range 3 {
			padded := append(make([]byte, shift), secret...)
			s := enc.EncodeToString(padded)
			start := (shift*8 + 5) / 6
			end := (shift + len(secret)) * 8 / 6
			if end-start >= 8 {
				out = append(out, []byte(s[start:end]))
			}
		}
	}
	return out
}
