// Package clientip tells the address of the party a request comes from.
// Behind a reverse proxy (nginx, a TLS terminator, a load balancer) the
// connection's address is the proxy's; the client's is in X-Forwarded-For,
// which anyone can also write, so it is read only as far as the proxies the
// operator names (OPENPSP_TRUSTED_PROXIES) vouch for it.
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

// Resolver finds a request's client address from its connection and the
// trusted proxies' X-Forwarded-For.
type Resolver struct {
	trusted []netip.Prefix
}

// NewResolver returns a Resolver trusting the given proxies (none: the
// connection's address is always the client's).
func NewResolver(trusted []netip.Prefix) *Resolver {
	return &Resolver{trusted: trusted}
}

// Resolve returns the client's address. Only when the connection comes from
// a trusted proxy is X-Forwarded-For read, from the right (each proxy
// appends the address it received the request from): the first address that
// is not a trusted proxy is the client. Everything left of it was written by
// the client or by proxies nobody vouches for. An entry that is not an
// address stops the walk at the last address known.
func (res *Resolver) Resolve(r *http.Request) string {
	remote, ok := parseAddr(r.RemoteAddr)
	if !ok {
		return hostOf(r.RemoteAddr)
	}
	if !res.isTrusted(remote) {
		return remote.String()
	}
	hops := r.Header.Values("X-Forwarded-For")
	client := remote
	for i := len(hops) - 1; i >= 0; i-- {
		entries := strings.Split(hops[i], ",")
		for j := len(entries) - 1; j >= 0; j-- {
			a, ok := parseAddr(strings.TrimSpace(entries[j]))
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
		// X-Forwarded-For is ignored: Of reads the connection's address
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
