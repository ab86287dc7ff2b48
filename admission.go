package epchat

import (
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"
)

// Admission: what both upgrade paths, ServeHTTP and Serve, decide about a
// request before anything is hijacked or answered with 101. Each path
// parses the request its own way and then calls admit, so the two cannot
// disagree (SECURITY.md, Origins and authorization):
//
//  1. the Hub is not shutting down (503);
//  2. the request's Host is allowed, when WithAllowedHosts is set (403);
//  3. at most one Origin header, and it is the request's own origin or an
//     allowed one (403);
//  4. the authorize hook accepts it (403), and may choose the nickname;
//  5. the client's address, and the Hub, have a connection slot left (503
//     with Retry-After, counted in Stats.ConnectionsRefused).

// refusal is an admission's answer when the upgrade is refused: a plain
// HTTP status, never a hijacked connection.
type refusal struct {
	status int
	msg    string
	// retry asks the client to come back later (Retry-After).
	retry bool
}

// retryAfter is the Retry-After of a refusal at a connection limit, in
// seconds.
const retryAfter = "10"

var (
	refuseClosing = &refusal{status: http.StatusServiceUnavailable, msg: "shutting down"}
	refuseHost    = &refusal{status: http.StatusForbidden, msg: "host not allowed"}
	refuseOrigin  = &refusal{status: http.StatusForbidden, msg: "cross-origin WebSocket refused"}
	refuseAuth    = &refusal{status: http.StatusForbidden, msg: "forbidden"}
	refuseLimit   = &refusal{status: http.StatusServiceUnavailable, msg: "too many connections", retry: true}
)

// admitted is what an admitted upgrade carries into the connection.
type admitted struct {
	nickname string // chosen by the authorize hook; "" lets the client choose
	addr     string // the client address; it holds a slot until released
}

// admit applies the admission rules to r, whose scheme is https when
// secure (it came over TLS). On success the client's address holds a
// connection slot, which the caller releases if the upgrade then fails.
func (h *Hub) admit(r *http.Request, secure bool) (admitted, *refusal) {
	if h.closing.Load() {
		return admitted{}, refuseClosing
	}
	if !h.hostAllowed(r.Host) {
		h.log.Info("upgrade refused: host not allowed")
		return admitted{}, refuseHost
	}
	if !h.originAllowed(r, secure) {
		h.log.Debug("upgrade refused: origin")
		return admitted{}, refuseOrigin
	}
	var a admitted
	if f := h.cfg.authorize; f != nil {
		nick, err := f(r)
		if err != nil {
			return admitted{}, refuseAuth
		}
		a.nickname = nick
	}
	addr, ok := h.guard.admit(h.clientAddr(r), h.cfg.maxConns, h.cfg.maxConnsPerAddr)
	if !ok {
		h.log.Info("connection refused: limit reached")
		h.stats.connsRefused.Add(1)
		return admitted{}, refuseLimit
	}
	a.addr = addr // the guard's copy, shared by the address's connections
	return a, nil
}

// write answers a refused ServeHTTP request.
func (f *refusal) write(w http.ResponseWriter) {
	if f.retry {
		w.Header().Set("Retry-After", retryAfter)
	}
	http.Error(w, f.msg, f.status)
}

// requestScheme is the scheme r came with: https over TLS, or when the
// Hub trusts a proxy to say so (WithTrustForwardedProto); http otherwise.
func (h *Hub) requestScheme(r *http.Request, secure bool) string {
	if secure || h.cfg.trustFwdProto && forwardedHTTPS(r.Header) {
		return "https"
	}
	return "http"
}

// forwardedHTTPS reports whether the nearest proxy says the client's
// request came over TLS: the last value of X-Forwarded-Proto, or else the
// proto of the last element of Forwarded, is https (each proxy appends
// its own; the nearest is the one the Hub can trust).
func forwardedHTTPS(hd http.Header) bool {
	if v := hd.Values("X-Forwarded-Proto"); len(v) > 0 {
		return strings.EqualFold(lastElem(v), "https")
	}
	v := hd.Values("Forwarded")
	if len(v) == 0 {
		return false
	}
	for pair := range strings.SplitSeq(lastElem(v), ";") {
		k, val, _ := strings.Cut(strings.TrimSpace(pair), "=")
		if strings.EqualFold(k, "proto") {
			return strings.EqualFold(strings.Trim(val, `"`), "https")
		}
	}
	return false
}

// lastElem is the last element of a comma-separated header list.
func lastElem(vals []string) string {
	v := vals[len(vals)-1]
	return strings.TrimSpace(v[strings.LastIndexByte(v, ',')+1:])
}

// originAllowed applies the origin rule to r: no Origin (not a browser),
// or exactly one Origin that is a plain http or https origin (no user
// info, path, query or fragment) and either is the request's own
// (scheme and host) or matches WithOriginPatterns with scheme https, or
// the request's own scheme.
func (h *Hub) originAllowed(r *http.Request, secure bool) bool {
	vals := r.Header.Values("Origin")
	switch len(vals) {
	case 0:
		return true
	case 1:
	default:
		return false // two Origins: a forgery, or a broken proxy
	}
	scheme := h.requestScheme(r, secure)
	ok := h.originOK(vals[0], r.Host, scheme)
	if !ok && scheme == "http" && !h.cfg.trustFwdProto && forwardedHTTPS(r.Header) &&
		h.protoWarned.CompareAndSwap(false, true) {
		h.log.Warn("origin refused: the request came over plain HTTP but a proxy says HTTPS; set WithTrustForwardedProto if you trust it")
	}
	return ok
}

// originOK tells whether the Origin value origin may open a WebSocket
// whose request named reqHost and came with scheme reqScheme.
func (h *Hub) originOK(origin, reqHost, reqScheme string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || u.User != nil || u.Opaque != "" ||
		u.Path != "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" ||
		(u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	host := canonHost(u.Host, u.Scheme)
	if u.Scheme == reqScheme && host == canonHost(reqHost, reqScheme) {
		return true
	}
	if u.Scheme != "https" && u.Scheme != reqScheme {
		return false // an http page may not reach an https endpoint
	}
	for _, p := range h.cfg.originPatterns {
		if ok, _ := path.Match(strings.ToLower(p), host); ok {
			return true
		}
	}
	return false
}

// canonHost lowers host[:port] and drops the default port of scheme, so
// that https://Example.com:443 and example.com are one host.
func canonHost(hostport, scheme string) string {
	hostport = strings.ToLower(hostport)
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return hostport
	}
	if scheme == "http" && port == "80" || scheme == "https" && port == "443" {
		if strings.Contains(host, ":") {
			return "[" + host + "]"
		}
		return host
	}
	return hostport
}

// hostAllowed applies WithAllowedHosts to a request's Host: every host
// when the list is empty; otherwise one matching an entry (path.Match, no
// case), an entry without a port matching the host on any port.
func (h *Hub) hostAllowed(hostport string) bool {
	if len(h.cfg.allowedHosts) == 0 {
		return true
	}
	hostport = strings.ToLower(hostport)
	host := hostport
	if hh, _, err := net.SplitHostPort(hostport); err == nil {
		host = hh
		if strings.Contains(hh, ":") {
			host = "[" + hh + "]"
		}
	}
	for _, p := range h.cfg.allowedHosts {
		p = strings.ToLower(p)
		if ok, _ := path.Match(p, hostport); ok {
			return true
		}
		if !hasPort(p) {
			if ok, _ := path.Match(p, host); ok {
				return true
			}
		}
	}
	return false
}

// hasPort reports whether an allowed-host entry names a port.
func hasPort(p string) bool {
	if strings.HasPrefix(p, "[") {
		return strings.Contains(p, "]:")
	}
	return strings.Count(p, ":") == 1
}
