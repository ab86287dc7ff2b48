// Package web is the epchat demo chat page: plain HTML, CSS and JavaScript
// modules, embedded in the binary and served by Handler.
//
// The page is built on the browser client library (package
// github.com/epchat-go/epchat/client), which it serves under lib/: the
// library speaks the epchat wire protocol (PROTOCOL.md) to a Hub mounted at
// "chat/" next to it, and encrypts every message end to end with the Web
// Crypto API, so the server only ever relays ciphertext. The page's own
// scripts are its user interface. Mount it like this:
//
//	mux := http.NewServeMux()
//	mux.Handle("/chat/", http.StripPrefix("/chat", hub))
//	mux.Handle("/", web.Handler())
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/epchat-go/epchat/client"
)

//go:embed static
var static embed.FS

// file is one embedded file, ready to serve.
type file struct {
	body        []byte
	contentType string
	etag        string
}

// contentTypes names the types of the files the page is made of. Setting
// them here, rather than asking the operating system's MIME table, keeps the
// answer the same everywhere: a module script served with a wrong type is
// refused by browsers.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".svg":  "image/svg+xml",
	".txt":  "text/plain; charset=utf-8",
}

// Handler returns an http.Handler that serves the demo page: "/" is the
// chat page, "/lib/" the client library's modules, and the other paths are
// the page's scripts, styles and icon. Anything
// else is 404; methods other than GET and HEAD are 405.
//
// Every answer carries a strict Content-Security-Policy (scripts and styles
// from the page's own origin only, WebSocket connections to it only, no
// frames), Referrer-Policy: no-referrer so that an invite in the URL
// fragment never leaks to another site, and X-Content-Type-Options: nosniff.
// Files are revalidated by ETag on every load, so a new build is picked up
// at once.
//
// Handler is safe for concurrent use.
func Handler() http.Handler {
	files := make(map[string]file)
	add := func(fsys fs.FS, root, prefix string) {
		err := fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			ct, ok := contentTypes[path.Ext(p)]
			if !ok {
				return nil
			}
			body, err := fs.ReadFile(fsys, p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(body)
			name := prefix + strings.TrimPrefix(strings.TrimPrefix(p, root), "/")
			files[name] = file{
				body:        body,
				contentType: ct,
				etag:        `"` + hex.EncodeToString(sum[:12]) + `"`,
			}
			return nil
		})
		if err != nil {
			// The files are compiled in: failing to read them is a build bug.
			panic("web: reading embedded files: " + err.Error())
		}
	}
	add(static, "static", "/")
	add(client.FS(), ".", "/lib/")
	files["/"] = files["/index.html"]
	delete(files, "/index.html")
	return handler{files: files}
}

type handler struct {
	files map[string]file
}

func (h handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", csp(r.Host))
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("X-Frame-Options", "DENY")
	hdr.Set("Cross-Origin-Opener-Policy", "same-origin")
	hdr.Set("Cross-Origin-Resource-Policy", "same-origin")
	hdr.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()")

	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	f, ok := h.files[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	hdr.Set("Content-Type", f.contentType)
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("ETag", f.etag)
	// ServeContent answers If-None-Match with 304 and handles HEAD and
	// Range; the zero time leaves Last-Modified out.
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.body))
}

// safeHost matches a Host header that may be written into the CSP as is:
// a name or address with an optional port, nothing that could end a
// directive.
var safeHost = regexp.MustCompile(`^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?$`)

// csp is the Content-Security-Policy of every answer. 'self' covers ws:
// and wss: to the page's own host in browsers that follow CSP Level 3;
// the explicit ws:// and wss:// sources are for those that do not.
func csp(host string) string {
	connect := "'self'"
	if safeHost.MatchString(host) {
		connect += " ws://" + host + " wss://" + host
	}
	return strings.Join([]string{
		"default-src 'none'",
		"script-src 'self'",
		"style-src 'self'",
		"img-src 'self'",
		"connect-src " + connect,
		"manifest-src 'self'",
		"base-uri 'none'",
		"form-action 'none'",
		"frame-ancestors 'none'",
	}, "; ")
}
