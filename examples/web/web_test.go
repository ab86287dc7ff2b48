package web_test

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/epchat-go/epchat/examples/web"
)

func TestHandler(t *testing.T) {
	srv := httptest.NewServer(web.Handler())
	t.Cleanup(srv.Close)

	tests := []struct {
		name        string
		method      string
		path        string
		status      int
		contentType string
		body        string
	}{
		{
			name:        "page",
			method:      http.MethodGet,
			path:        "/",
			status:      http.StatusOK,
			contentType: "text/html; charset=utf-8",
			body:        `<script type="module" src="app.js"></script>`,
		},
		{
			name:        "script",
			method:      http.MethodGet,
			path:        "/app.js",
			status:      http.StatusOK,
			contentType: "text/javascript; charset=utf-8",
			body:        "import",
		},
		{
			name:        "the client library",
			method:      http.MethodGet,
			path:        "/lib/index.js",
			status:      http.StatusOK,
			contentType: "text/javascript; charset=utf-8",
			body:        "export { Client",
		},
		{
			name:   "the library's package metadata",
			method: http.MethodGet,
			path:   "/lib/package.json",
			status: http.StatusNotFound,
		},
		{
			name:        "style",
			method:      http.MethodGet,
			path:        "/style.css",
			status:      http.StatusOK,
			contentType: "text/css; charset=utf-8",
			body:        "prefers-color-scheme: dark",
		},
		{
			name:        "icon",
			method:      http.MethodGet,
			path:        "/favicon.svg",
			status:      http.StatusOK,
			contentType: "image/svg+xml",
			body:        "<svg",
		},
		{
			name:        "head",
			method:      http.MethodHead,
			path:        "/",
			status:      http.StatusOK,
			contentType: "text/html; charset=utf-8",
		},
		{
			name:   "index by name",
			method: http.MethodGet,
			path:   "/index.html",
			status: http.StatusNotFound,
		},
		{
			name:   "unknown",
			method: http.MethodGet,
			path:   "/secret.txt",
			status: http.StatusNotFound,
		},
		{
			name:   "directory",
			method: http.MethodGet,
			path:   "/static/",
			status: http.StatusNotFound,
		},
		{
			name:   "post",
			method: http.MethodPost,
			path:   "/",
			status: http.StatusMethodNotAllowed,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, srv.URL+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tc.status)
			}
			// Every answer, errors included, carries the security headers.
			want := map[string]string{
				"Referrer-Policy":        "no-referrer",
				"X-Content-Type-Options": "nosniff",
				"X-Frame-Options":        "DENY",
			}
			for k, v := range want {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if resp.Header.Get("Content-Security-Policy") == "" {
				t.Error("no Content-Security-Policy")
			}
			if tc.contentType != "" {
				if got := resp.Header.Get("Content-Type"); got != tc.contentType {
					t.Errorf("Content-Type = %q, want %q", got, tc.contentType)
				}
			}
			if !strings.Contains(string(body), tc.body) {
				t.Errorf("body does not contain %q", tc.body)
			}
		})
	}
}

func TestHandlerCSP(t *testing.T) {
	tests := []struct {
		name    string
		host    string
		connect string
	}{
		{
			name:    "name and port",
			host:    "chat.example:8080",
			connect: "connect-src 'self' ws://chat.example:8080 wss://chat.example:8080",
		},
		{
			name:    "ipv6",
			host:    "[::1]:8080",
			connect: "connect-src 'self' ws://[::1]:8080 wss://[::1]:8080",
		},
		{
			name:    "injection attempt",
			host:    "evil.example; script-src *",
			connect: "connect-src 'self';",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.Host = tc.host
			rec := httptest.NewRecorder()
			web.Handler().ServeHTTP(rec, req)
			csp := rec.Header().Get("Content-Security-Policy")
			for _, directive := range []string{
				"default-src 'none'",
				"script-src 'self'",
				"style-src 'self'",
				"frame-ancestors 'none'",
				"base-uri 'none'",
				tc.connect,
			} {
				if !strings.Contains(csp, directive) {
					t.Errorf("CSP %q lacks %q", csp, directive)
				}
			}
			if strings.Contains(csp, "unsafe") || strings.Contains(csp, "*") {
				t.Errorf("CSP %q allows too much", csp)
			}
		})
	}
}

// TestHandlerRevalidates checks that a browser revalidating a file it has
// gets 304 while the file is unchanged.
func TestHandlerRevalidates(t *testing.T) {
	h := web.Handler()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/app.js", nil))
	etag := rec.Header().Get("ETag")
	if etag == "" || rec.Header().Get("Cache-Control") != "no-cache" {
		t.Fatalf("ETag %q, Cache-Control %q: want an ETag and no-cache", etag, rec.Header().Get("Cache-Control"))
	}
	req := httptest.NewRequest(http.MethodGet, "/app.js", nil)
	req.Header.Set("If-None-Match", etag)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotModified {
		t.Errorf("revalidation status = %d, want 304", rec.Code)
	}
}

// TestPageLeavesProtocolAndCryptoToTheLibrary checks that the page's own
// scripts hold no protocol or crypto code: they open no WebSocket, write
// no request, and touch no Web Crypto API. All of that is the client
// library's (under /lib/), which the page imports.
func TestPageLeavesProtocolAndCryptoToTheLibrary(t *testing.T) {
	entries, err := fs.Glob(os.DirFS("static"), "*.js")
	if err != nil || len(entries) == 0 {
		t.Fatalf("the page's scripts: %v %v", entries, err)
	}
	forbidden := []string{"WebSocket", "crypto.subtle", "getRandomValues", "AES-GCM", "JSON.stringify({ type", "type: 'hello'", "type: 'send'"}
	imports := false
	for _, name := range entries {
		src, err := fs.ReadFile(os.DirFS("static"), name)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range forbidden {
			if strings.Contains(string(src), f) {
				t.Errorf("%s holds %q: protocol and crypto belong in the client library", name, f)
			}
		}
		imports = imports || strings.Contains(string(src), "from './lib/index.js'")
	}
	if !imports {
		t.Error("no script of the page imports the library")
	}
}
