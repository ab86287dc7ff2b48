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

	"github.com/gobwas/ws"
)

// tap wraps a listener and records every byte the server reads from and
// writes to each accepted connection, so a test can check what crossed the
// server, as an eavesdropper on it (or the server itself) would see it.
type tap struct {
	net.Listener

	mu    sync.Mutex
	conns []*tapConn
}

func newTap(l net.Listener) *tap {
	return &tap{Listener: l}
}

func (t *tap) Accept() (net.Conn, error) {
	c, err := t.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc := &tapConn{Conn: c}
	t.mu.Lock()
	t.conns = append(t.conns, tc)
	t.mu.Unlock()
	return tc, nil
}

// dropAll closes every connection accepted so far, as a network failure
// would: no close frame, the TCP connection just ends.
func (t *tap) dropAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, c := range t.conns {
		c.Conn.Close()
	}
}

type tapConn struct {
	net.Conn

	mu        sync.Mutex
	in, out   bytes.Buffer // read by the server, written by the server
	truncated bool
}

// maxRecorded bounds what one connection records; the tests stay far
// below it.
const maxRecorded = 64 << 20

func (c *tapConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.record(&c.in, p[:n])
	return n, err
}

func (c *tapConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.record(&c.out, p[:n])
	return n, err
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
