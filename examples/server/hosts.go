package main

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Host checks: which Host headers the demo answers, against DNS rebinding.
// A hostile page whose name the attacker points at 127.0.0.1 sends its own
// name as Host and Origin; a server on loopback that answers any Host lets
// that page chat and read the figures. So on a loopback listener the demo
// answers only the loopback names at its port, and with -allowed-hosts
// only those; every other Host gets 403 "host not allowed", from the
// page, /stats, /stats.json and /metrics as from the Hub's upgrades.

// hostRule is the Host check of one run.
type hostRule struct {
	// http is what the main listener's handlers answer (page, stats,
	// metrics, /chat/); nil answers every Host.
	http []string
	// hub is for epchat.WithAllowedHosts, which holds for both upgrade
	// paths (ServeHTTP under /chat/ and Serve on -ws-addr); nil: none.
	hub []string
	// unchecked lists the listeners whose Host nothing checks.
	unchecked []string
}

// newHostRule decides the Host check for the main listener httpAt and the
// -ws-addr listener wsAt (nil without). The entries of -allowed-hosts,
// when given, hold everywhere. Otherwise a loopback listener answers the
// loopback names at its port, and a listener on any other address answers
// every Host, as the demo always did; the Hub's own list is set only if it
// holds on each listener serving upgrades, since it is one list for both.
func newHostRule(httpAt, wsAt net.Addr, allowed []string) hostRule {
	if len(allowed) > 0 {
		return hostRule{http: allowed, hub: allowed}
	}
	var r hostRule
	httpLoop, wsLoop := isLoopback(httpAt), wsAt == nil || isLoopback(wsAt)
	if httpLoop {
		r.http = loopbackHosts(httpAt)
		if wsAt != nil && wsLoop {
			r.http = append(r.http, loopbackHosts(wsAt)...)
		}
	}
	if httpLoop && wsLoop {
		r.hub = r.http
	}
	if r.http == nil {
		r.unchecked = append(r.unchecked, httpAt.String())
	}
	if wsAt != nil && r.hub == nil {
		r.unchecked = append(r.unchecked, wsAt.String())
	}
	return r
}

func isLoopback(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

// loopbackHosts are the names a browser on this machine reaches a
// loopback listener by: localhost, 127.0.0.1 and [::1] at its port, and
// its own address (127.0.0.2, say). At port 80 a browser sends no port.
func loopbackHosts(a net.Addr) []string {
	ta := a.(*net.TCPAddr)
	port := strconv.Itoa(ta.Port)
	names := []string{"localhost", "127.0.0.1", "[::1]"}
	if ip, ok := netip.AddrFromSlice(ta.IP); ok {
		if own := hostName(ip.Unmap().String()); !slices.Contains(names, own) {
			names = append(names, own)
		}
	}
	var hosts []string
	for _, n := range names {
		hosts = append(hosts, n+":"+port)
		if port == "80" {
			hosts = append(hosts, n)
		}
	}
	return hosts
}

// hostName brackets an IPv6 address, as a Host header writes it.
func hostName(h string) string {
	if strings.Contains(h, ":") {
		return "[" + h + "]"
	}
	return h
}

// parseAllowedHosts reads -allowed-hosts: comma-separated host or
// host:port entries, an IPv6 address in brackets; an entry without a port
// allows its host on any port. Entries are literal names, not patterns.
func parseAllowedHosts(list string) ([]string, error) {
	var hosts []string
	for e := range strings.SplitSeq(list, ",") {
		e = strings.ToLower(strings.TrimSpace(e))
		if e == "" {
			continue
		}
		host, port := splitHost(e)
		if !validHost(host) || port != "" && !validPort(port) {
			return nil, fmt.Errorf("-allowed-hosts: bad entry %q: want host or host:port, an IPv6 address in brackets", e)
		}
		hosts = append(hosts, e)
	}
	return hosts, nil
}

func validHost(h string) bool {
	if v6, ok := strings.CutPrefix(h, "["); ok {
		v6, ok = strings.CutSuffix(v6, "]")
		a, err := netip.ParseAddr(v6)
		return ok && err == nil && a.Is6() && a.Zone() == ""
	}
	if h == "" {
		return false
	}
	for _, c := range h {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func validPort(p string) bool {
	n, err := strconv.Atoi(p)
	return err == nil && n > 0 && n < 1<<16 && p[0] != '0'
}

// splitHost splits a Host header or an entry into its host (an IPv6
// address in brackets) and port, "" when it has none.
func splitHost(hostport string) (host, port string) {
	if h, p, err := net.SplitHostPort(hostport); err == nil {
		return hostName(h), p
	}
	return hostport, ""
}

// hostListed tells whether the Host header hostport is allowed: it names
// an entry's host, and its port unless the entry has none. Case does not
// matter. The Hub's WithAllowedHosts decides the same (hubHosts).
func hostListed(allowed []string, hostport string) bool {
	host, port := splitHost(strings.ToLower(hostport))
	for _, e := range allowed {
		eh, ep := splitHost(e)
		if eh == host && (ep == "" || ep == port) {
			return true
		}
	}
	return false
}

// hubHosts writes entries as WithAllowedHosts patterns (path.Match
// syntax), escaped so that each matches itself only: "[::1]:8080" would
// be a character class.
func hubHosts(entries []string) []string {
	esc := strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`, `]`, `\]`)
	out := make([]string, len(entries))
	for i, e := range entries {
		out[i] = esc.Replace(e)
	}
	return out
}

// checkHost answers 403 to a request whose Host is not allowed, before
// next sees it; nil allows every Host.
func checkHost(allowed []string, next http.Handler) http.Handler {
	if allowed == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !hostListed(allowed, r.Host) {
			http.Error(w, "host not allowed", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}
