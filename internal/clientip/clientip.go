// Package clientip tells the address of the party a request comes from.
// Behind a reverse proxy (nginx, a TLS terminator, a load balancer) the
// connection's address is the proxy's; the client's is in the header the
// proxies write (X-Forwarded-For, or RFC 7239 Forwarded), which anyone can
// also write, so it is read only as far as the proxies the operator names
// (OPENPSP_TRUSTED_PROXIES) vouch for it, and only the one header the
// operator names (OPENPSP_FORWARDED_HEADER).
package clientip

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ParseTrusted parses a comma-separated list of CIDRs ("10.0.0.0/8,
// 2001:db8::/32"); a bare address stands for itself. Empty means no proxy is
// trusted. A prefix that spans every address is refused: X-Forwarded-For
// would then be whatever the client wrote.
func ParseTrusted(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		var p netip.Prefix
		if a, err := netip.ParseAddr(part); err == nil {
			a = a.Unmap()
			p = netip.PrefixFrom(a, a.BitLen())
		} else if p, err = netip.ParsePrefix(part); err != nil {
			return nil, fmt.Errorf("%q is not a CIDR such as 10.0.0.0/8 or fd00::/8, nor an address", part)
		} else {
			// Addresses are compared unmapped (parseAddr).
			if p.Addr().Is4In6() && p.Bits() >= 96 {
				p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
			}
			p = p.Masked()
		}
		if p.Bits() <= 0 {
			return nil, fmt.Errorf("%q trusts every address: any client could then choose the address it is known by", part)
		}
		out = append(out, p)
	}
	return out, nil
}

// Header is the header the trusted proxies write the client's address in.
// Only that one is read: the other is whatever the client wrote, and
// reading both (or one when the other is missing) would let a client
// behind a proxy that writes only one of them choose its address.
type Header int

const (
	// XForwardedFor: "X-Forwarded-For: 198.51.100.7, 10.1.2.3" (the default;
	// nginx's $proxy_add_x_forwarded_for).
	XForwardedFor Header = iota
	// Forwarded: RFC 7239, "Forwarded: for=198.51.100.7;proto=https,
	// for=\"[2001:db8::7]:443\"": each element's for= node.
	Forwarded
)

// String is the header's name as OPENPSP_FORWARDED_HEADER spells it.
func (h Header) String() string {
	if h == Forwarded {
		return "forwarded"
	}
	return "x-forwarded-for"
}

// ParseHeader reads OPENPSP_FORWARDED_HEADER: x-forwarded-for (also the
// empty value) or forwarded, in any letter case.
func ParseHeader(s string) (Header, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "x-forwarded-for":
		return XForwardedFor, nil
	case "forwarded":
		return Forwarded, nil
	}
	return 0, fmt.Errorf("%q is neither x-forwarded-for nor forwarded", s)
}

// Resolver finds a request's client address from its connection and the
// trusted proxies' X-Forwarded-For or Forwarded header.
type Resolver struct {
	trusted []netip.Prefix
	header  Header
}

// NewResolver returns a Resolver trusting the given proxies (none: the
// connection's address is always the client's) and reading the header h
// they write.
func NewResolver(trusted []netip.Prefix, h Header) *Resolver {
	return &Resolver{trusted: trusted, header: h}
}

// Resolve returns the client's address. Only when the connection comes from
// a trusted proxy is the proxies' header read, from the right (each proxy
// appends the address it received the request from): the first address that
// is not a trusted proxy is the client. Everything left of it was written by
// the client or by proxies nobody vouches for. An entry that is not an
// address (in Forwarded: "unknown", an obfuscated "_name", no for= at all)
// stops the walk at the last address known: what lies left of a hop whose
// address is hidden is nobody's word.
func (res *Resolver) Resolve(r *http.Request) string {
	remote, ok := parseAddr(r.RemoteAddr)
	if !ok {
		return hostOf(r.RemoteAddr)
	}
	if !res.isTrusted(remote) {
		return remote.String()
	}
	name, split, node := "X-Forwarded-For", splitComma, xffNode
	if res.header == Forwarded {
		name, split, node = "Forwarded", forwardedElements, forwardedFor
	}
	hops := r.Header.Values(name)
	client := remote
	for i := len(hops) - 1; i >= 0; i-- {
		entries := split(hops[i])
		for j := len(entries) - 1; j >= 0; j-- {
			a, ok := node(entries[j])
			if !ok {
				return client.String()
			}
			client = a
			if !res.isTrusted(a) {
				return a.String()
			}
		}
	}
	// Every hop is a trusted proxy: the farthest one is all we know.
	return client.String()
}

func splitComma(s string) []string { return strings.Split(s, ",") }

// xffNode reads an X-Forwarded-For entry: "ip", "ip:port", "[ipv6]:port".
func xffNode(s string) (netip.Addr, bool) { return parseAddr(strings.TrimSpace(s)) }

// forwardedElements splits a Forwarded header line into its elements: at
// the commas outside quoted strings (RFC 7239 §4). A quote a client leaves
// open would swallow the elements a proxy appends to the same line: when
// the line ends inside a quote, the element holding its opening ends at
// the next comma (malformed, it stops the walk there if reached) and the
// rest, which holds no quote, is split at its commas. A proxy's element
// that the client's quote still reaches (a quoted node closing it) is
// malformed: the walk stops at the proxy's own address, never at one the
// client chose.
func forwardedElements(s string) []string {
	var out []string
	start, quoted, escaped, openAt := 0, false, false, -1
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case escaped:
			escaped = false
		case quoted && c == '\\':
			escaped = true
		case c == '"':
			if quoted = !quoted; quoted {
				openAt = i
			}
		case c == ',' && !quoted:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	if quoted {
		if k := strings.IndexByte(s[openAt:], ','); k >= 0 {
			out = append(out, s[start:openAt+k])
			return append(out, strings.Split(s[openAt+k+1:], ",")...)
		}
	}
	return append(out, s[start:])
}

// forwardedFor reads the for= node of a Forwarded element
// ("for=192.0.2.60;proto=http;by=203.0.113.43"): its address, or false
// when the element has none, names an obfuscated or unknown node, or is
// malformed (an unterminated quote, a parameter without "=", two for=).
func forwardedFor(element string) (netip.Addr, bool) {
	var node string
	found := false
	for rest := element; strings.TrimSpace(rest) != ""; {
		// One pair: name=token or name="quoted string", up to the next
		// semicolon outside quotes.
		name, after, ok := strings.Cut(rest, "=")
		if !ok {
			return netip.Addr{}, false
		}
		var v string
		if after = strings.TrimLeft(after, " \t"); strings.HasPrefix(after, "\"") {
			var b strings.Builder
			i := 1
			for ; i < len(after) && after[i] != '"'; i++ {
				if after[i] == '\\' && i+1 < len(after) {
					i++
				}
				b.WriteByte(after[i])
			}
			if i >= len(after) {
				return netip.Addr{}, false // no closing quote
			}
			tail, next, _ := strings.Cut(after[i+1:], ";")
			if strings.TrimSpace(tail) != "" {
				return netip.Addr{}, false
			}
			v, rest = b.String(), next
		} else {
			v, rest, _ = strings.Cut(after, ";")
			v = strings.TrimSpace(v)
		}
		if strings.EqualFold(strings.TrimSpace(name), "for") {
			if found {
				return netip.Addr{}, false
			}
			node, found = v, true
		}
	}
	if !found {
		return netip.Addr{}, false
	}
	return forwardedNode(node)
}

// forwardedNode reads a node of RFC 7239 §6: "192.0.2.43", "192.0.2.43:47011",
// "[2001:db8:cafe::17]", "[2001:db8:cafe::17]:4711", a port possibly
// obfuscated ("_p1"). "unknown" and obfuscated names ("_hidden") are no
// address; nor is an IPv6 address outside brackets.
func forwardedNode(v string) (netip.Addr, bool) {
	host, port := v, ""
	if strings.HasPrefix(v, "[") {
		end := strings.IndexByte(v, ']')
		if end < 0 {
			return netip.Addr{}, false
		}
		host, port = v[1:end], v[end+1:]
		if port != "" {
			if port[0] != ':' || len(port) == 1 {
				return netip.Addr{}, false
			}
			port = port[1:]
		}
		if !strings.Contains(host, ":") { // brackets are for IPv6
			return netip.Addr{}, false
		}
	} else {
		if strings.Count(v, ":") > 1 { // IPv6 outside brackets
			return netip.Addr{}, false
		}
		var hasPort bool
		if host, port, hasPort = strings.Cut(v, ":"); hasPort && port == "" {
			return netip.Addr{}, false
		}
	}
	if port != "" && !validPort(port) {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}

// validPort is a node-port of RFC 7239 §6.1: 1 to 5 digits, or an
// obfuscated port ("_" then letters, digits, ".", "_", "-").
func validPort(p string) bool {
	if p[0] == '_' {
		if len(p) == 1 {
			return false
		}
		for i := 1; i < len(p); i++ {
			c := p[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
				return false
			}
		}
		return true
	}
	if len(p) > 5 {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
	}
	return true
}

func (res *Resolver) isTrusted(a netip.Addr) bool {
	for _, p := range res.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

type ctxKey struct{}

// Attach returns r with its client address resolved once and carried in its
// context, for Of. The server's middleware calls it on every request.
func (res *Resolver) Attach(r *http.Request) *http.Request {
	if len(res.trusted) == 0 {
		// The proxies' header is ignored: Of reads the connection's address
		// itself, and the request needs no copy (the default, on every
		// request).
		return r
	}
	return r.WithContext(context.WithValue(r.Context(), ctxKey{}, res.Resolve(r)))
}

// Of returns the client address of r: the one Attach resolved, else the
// connection's (a handler served without the middleware trusts no proxy).
// Every place that logs or records a client's address uses it.
func Of(r *http.Request) string {
	if s, ok := r.Context().Value(ctxKey{}).(string); ok {
		return s
	}
	if a, ok := parseAddr(r.RemoteAddr); ok {
		return a.String()
	}
	return hostOf(r.RemoteAddr)
}

// parseAddr reads "ip", "ip:port" or "[ipv6]:port"; IPv4-mapped IPv6
// addresses become IPv4 so that 10.0.0.0/8 matches ::ffff:10.1.2.3.
func parseAddr(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone(""), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		return parseAddr(s[1 : len(s)-1])
	}
	return netip.Addr{}, false
}

func hostOf(remote string) string {
	if h, _, err := net.SplitHostPort(remote); err == nil {
		return h
	}
	return remote
}
