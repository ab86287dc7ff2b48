package main

import (
	"errors"
	"net"
	"net/http"
	"net/netip"
	"net/textproto"
	"strings"
)

// clientIPHeader checks the -client-ip-header name and returns it in its
// canonical form.
func clientIPHeader(name string) (string, error) {
	for _, c := range name {
		if c <= ' ' || c >= 0x7f || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, c) {
			return "", errors.New("-client-ip-header: not a header name")
		}
	}
	name = textproto.CanonicalMIMEHeaderKey(name)
	if name == "Forwarded" {
		return "", errors.New("-client-ip-header: Forwarded has a syntax of its own; use X-Forwarded-For or X-Real-IP")
	}
	return name, nil
}

// clientAddrFrom is the epchat.WithClientAddr hook of -client-ip-header:
// the client's address is the last hop of header name (the last element
// of its last line: the one the nearest proxy wrote), an IPv6 address cut
// to its /64 as the Hub's default does. A request without a readable
// address there (one that did not come through the proxy) counts by its
// socket's address. Set only behind a proxy that always sets the header:
// anyone else may write it.
func clientAddrFrom(name string) func(*http.Request) string {
	return func(r *http.Request) string {
		if v := r.Header.Values(name); len(v) > 0 {
			last := v[len(v)-1]
			last = strings.TrimSpace(last[strings.LastIndexByte(last, ',')+1:])
			if a, ok := parseIP(last); ok {
				return addrKey(a)
			}
		}
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			host = r.RemoteAddr
		}
		if a, ok := parseIP(host); ok {
			return addrKey(a)
		}
		return host
	}
}

// parseIP reads an address, with or without a port or brackets.
func parseIP(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return a, true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr(), true
	}
	return netip.Addr{}, false
}

func addrKey(a netip.Addr) string {
	a = a.Unmap().WithZone("")
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}
