package clientip

import (
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// FuzzParseTrusted reads any OPENPSP_TRUSTED_PROXIES: what it accepts is
// a list of canonical prefixes (masked, IPv4 ranges as IPv4, never one that
// spans every address) that reads back the same from its own spelling; a
// refusal says which entry is wrong.
func FuzzParseTrusted(f *testing.F) {
	for _, s := range []string{"", "10.0.0.0/8", "10.0.0.0/8, 2001:db8::/32", "127.0.0.1", "::ffff:10.0.0.0/104", "::ffff:0.0.0.0/96",
		"0.0.0.0/0", "::/0", "fe80::1%eth0", "10.1.2.3/8", "10.0.0.0/33", ",,", "x", "1.2.3.4/01", "::ffff:1.2.3.4"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ps, err := ParseTrusted(s)
		if err != nil {
			if !strings.Contains(err.Error(), `"`) {
				t.Fatalf("%q: error %q quotes no entry", s, err)
			}
			return
		}
		var spelled []string
		for _, p := range ps {
			if !p.IsValid() || p.Bits() <= 0 || p != p.Masked() || p.Addr().Is4In6() || p.Addr().Zone() != "" {
				t.Fatalf("%q: prefix %v (bits %d) is not canonical or spans everything", s, p, p.Bits())
			}
			spelled = append(spelled, p.String())
		}
		back, err := ParseTrusted(strings.Join(spelled, ","))
		if err != nil || !slices.Equal(back, ps) {
			t.Fatalf("%q: %v reads back as %v, %v", s, ps, back, err)
		}
	})
}

// FuzzResolve resolves any connection address and X-Forwarded-For lines
// behind any trusted proxies. The answer is the connection's address or one
// of the header's, canonical (no port, no zone, IPv4 unmapped); the header
// is not read at all unless the connection comes from a trusted proxy; and
// an entry the client prepends cannot change an answer that is not itself a
// trusted proxy: spoofing X-Forwarded-For only works left of the proxies
// the operator vouches for.
func FuzzResolve(f *testing.F) {
	for _, c := range [][5]string{
		{"127.0.0.1/32", "127.0.0.1:5555", "203.0.113.9, 198.51.100.7", "", "1.2.3.4"},
		{"127.0.0.1/32,10.0.0.0/8", "127.0.0.1:5555", "198.51.100.7", "10.1.2.3", "10.9.9.9"},
		{"10.0.0.0/8", "127.0.0.1:5555", "198.51.100.7", "", "1.2.3.4"},
		{"::1", "[::1]:443", "[2001:db8::7]:443, ::ffff:10.1.2.3", "", "evil"},
		{"127.0.0.1", "127.0.0.1", "evil, 10.1.2.3", "", ""},
		{"fe80::/10", "[fe80::1%eth0]:80", "fe80::2%lo", "fe80::3", "fe80::4"},
		{"127.0.0.0/8", "127.0.0.1:1", " , ", "[::ffff:127.0.0.2]", "127.0.0.3"},
		{"", "not an address", "1.2.3.4", "", ""},
	} {
		f.Add(c[0], c[1], c[2], c[3], c[4])
	}
	f.Fuzz(func(t *testing.T, trustedSpec, remote, xff1, xff2, injected string) {
		checkResolve(t, XForwardedFor, trustedSpec, remote, xff1, xff2, injected)
	})
}

// FuzzResolveForwarded is FuzzResolve for proxies that write RFC 7239
// Forwarded (OPENPSP_FORWARDED_HEADER=forwarded): the same answers from
// the elements' for= nodes (quoted, IPv6 in brackets, ports, obfuscated
// names), and the same resistance to an element the client writes first.
func FuzzResolveForwarded(f *testing.F) {
	for _, c := range [][5]string{
		{"127.0.0.1/32", "127.0.0.1:5555", "for=203.0.113.9, for=198.51.100.7;proto=https", "", "for=1.2.3.4"},
		{"127.0.0.1/32,10.0.0.0/8", "127.0.0.1:5555", `for="198.51.100.7:4711"`, "for=10.1.2.3;by=10.0.0.1", "for=10.9.9.9"},
		{"::1", "[::1]:443", `for="[2001:db8::7]:443", for="[::ffff:10.1.2.3]"`, "", "for=evil"},
		{"127.0.0.1", "127.0.0.1", `for=unknown, for=_hidden, for="198.51.100.7:_p1"`, "", `for="[2001:db8::1]`},
		{"127.0.0.0/8", "127.0.0.1:1", `For=192.0.2.1;proto=http, by=127.0.0.2`, `for="a\"b,c";for=1.2.3.4`, "for=2001:db8::1"},
		{"fe80::/10", "[fe80::1%eth0]:80", `for="[fe80::2%25lo]"`, "", ""},
	} {
		f.Add(c[0], c[1], c[2], c[3], c[4])
	}
	f.Fuzz(func(t *testing.T, trustedSpec, remote, fwd1, fwd2, injected string) {
		checkResolve(t, Forwarded, trustedSpec, remote, fwd1, fwd2, injected)
	})
}

// checkResolve resolves a request from remote carrying the header lines
// h1, h2 of the header h behind trustedSpec's proxies (a fixed list when
// it does not parse), and checks what FuzzResolve says; and that the other
// header, whatever it says, is never read.
func checkResolve(t *testing.T, h Header, trustedSpec, remote, h1, h2, injected string) {
	fallback := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	trusted, err := ParseTrusted(trustedSpec)
	if err != nil {
		trusted = fallback
	}
	res := NewResolver(trusted, h)
	name, other := "X-Forwarded-For", "Forwarded"
	split, node := splitComma, xffNode
	if h == Forwarded {
		name, other = other, name
		split, node = forwardedElements, forwardedFor
	}
	var hops []string
	for _, v := range []string{h1, h2} {
		if v != "" {
			hops = append(hops, v)
		}
	}
	req := func(hops []string) *http.Request {
		r := &http.Request{RemoteAddr: remote, Header: http.Header{}}
		if len(hops) > 0 {
			r.Header[name] = hops
		}
		return r
	}
	got := res.Resolve(req(hops))
	if of := Of(res.Attach(req(hops))); of != got {
		t.Fatalf("Of after Attach says %q, Resolve %q", of, got)
	}
	withOther := req(hops)
	withOther.Header[other] = []string{injected, h1}
	if o := res.Resolve(withOther); o != got {
		t.Fatalf("%s %q changed the answer from %q to %q: only %s is read", other, withOther.Header[other], got, o, name)
	}
	ra, ok := parseAddr(remote)
	if !ok {
		if got != hostOf(remote) {
			t.Fatalf("unreadable connection address %q resolved as %q", remote, got)
		}
		return
	}
	a, err := netip.ParseAddr(got)
	if err != nil || a.String() != got || a.Zone() != "" || a.Is4In6() {
		t.Fatalf("%q is not a canonical address (%v)", got, err)
	}
	if !res.isTrusted(ra) {
		if got != ra.String() {
			t.Fatalf("connection from untrusted %v, yet the header's %q is the answer", ra, got)
		}
		return
	}
	if got != ra.String() {
		var known bool
		for _, v := range hops {
			for _, e := range split(v) {
				if ea, ok := node(e); ok && ea.String() == got {
					known = true
				}
			}
		}
		if !known {
			t.Fatalf("%q is neither the connection's address nor in %s %q", got, name, hops)
		}
	}
	if spoofed := res.Resolve(req(append([]string{injected}, hops...))); spoofed != got && !res.isTrusted(a) {
		t.Fatalf("%s %q resolves to %q, but %q with %q written before it", name, hops, got, spoofed, injected)
	}
	if len(hops) == 0 {
		return
	}
	// Written in the line a proxy then appends to (an open quote, a
	// backslash…), the client's text may make the walk stop earlier,
	// never give an address only it names (but past proxies that are all
	// trusted, the farthest is whatever was written, as above).
	inline := append([]string{injected + "," + hops[0]}, hops[1:]...)
	spoofed := res.Resolve(req(inline))
	if sa, err := netip.ParseAddr(spoofed); spoofed == got || spoofed == ra.String() || err == nil && res.isTrusted(sa) {
		return
	}
	for _, v := range hops {
		for _, e := range split(v) {
			if ea, ok := node(e); ok && ea.String() == spoofed {
				return
			}
		}
	}
	t.Fatalf("%s %q resolves to %q, but %q with %q written at the start of its first line: an address only the client wrote",
		name, hops, got, spoofed, injected)
}
