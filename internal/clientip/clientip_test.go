package clientip

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Each case is a real request over loopback: the test client's connection
// comes from 127.0.0.1, which plays the reverse proxy when trusted.
func TestResolveBehindProxies(t *testing.T) {
	for _, c := range []struct {
		name    string
		trusted string
		xff     []string
		want    string
	}{
		{"no proxy trusted: the header is ignored", "", []string{"198.51.100.7"}, "127.0.0.1"},
		{"connection not from a trusted proxy", "10.0.0.0/8", []string{"198.51.100.7"}, "127.0.0.1"},
		{"trusted proxy, no header", "127.0.0.1/32", nil, "127.0.0.1"},
		{"trusted proxy gives the client", "127.0.0.0/8", []string{"198.51.100.7"}, "198.51.100.7"},
		{"a client's forged entry stays left of the real one", "127.0.0.1", []string{"203.0.113.9, 198.51.100.7"}, "198.51.100.7"},
		{"trusted inner proxies are skipped", "127.0.0.1/32, 10.0.0.0/8", []string{"203.0.113.9, 198.51.100.7, 10.1.2.3"}, "198.51.100.7"},
		{"several header lines read as one list", "127.0.0.1/32,10.0.0.0/8", []string{"198.51.100.7", "10.1.2.3"}, "198.51.100.7"},
		{"an untrusted proxy is the client", "127.0.0.1/32", []string{"198.51.100.7, 10.1.2.3"}, "10.1.2.3"},
		{"garbage stops the walk at the last known address", "127.0.0.1/32,10.0.0.0/8", []string{"evil, 10.1.2.3"}, "10.1.2.3"},
		{"IPv6 and ports", "127.0.0.1/32", []string{"[2001:db8::7]:443"}, "2001:db8::7"},
		{"IPv4-mapped entries match IPv4 ranges", "127.0.0.1/32,10.0.0.0/8", []string{"198.51.100.7, ::ffff:10.1.2.3"}, "198.51.100.7"},
		{"only proxies: the farthest", "127.0.0.1/32,10.0.0.0/8", []string{"10.9.9.9, 10.1.2.3"}, "10.9.9.9"},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := http.Header{}
			for _, v := range c.xff {
				h.Add("X-Forwarded-For", v)
			}
			if got := resolveOverHTTP(t, c.trusted, XForwardedFor, h); got != c.want {
				t.Fatalf("client %q, want %q", got, c.want)
			}
		})
	}
}

// Behind proxies that write RFC 7239 Forwarded (OPENPSP_FORWARDED_HEADER=
// forwarded), the same walk reads the elements' for= nodes; X-Forwarded-For
// is then ignored, as Forwarded is behind proxies that write
// X-Forwarded-For. Real requests over loopback, as above.
func TestResolveForwardedBehindProxies(t *testing.T) {
	for _, c := range []struct {
		name      string
		header    Header
		trusted   string
		forwarded []string
		xff       string
		want      string
	}{
		{"no proxy trusted: the header is ignored", Forwarded, "", []string{"for=198.51.100.7"}, "", "127.0.0.1"},
		{"connection not from a trusted proxy", Forwarded, "10.0.0.0/8", []string{"for=198.51.100.7"}, "", "127.0.0.1"},
		{"trusted proxy gives the client", Forwarded, "127.0.0.0/8", []string{"for=198.51.100.7;proto=https;by=127.0.0.1"}, "", "198.51.100.7"},
		{"names and parameters in any case, spaces", Forwarded, "127.0.0.1", []string{"proto=https ; For = 198.51.100.7"}, "", "198.51.100.7"},
		{"quoted, with a port", Forwarded, "127.0.0.1", []string{`for="198.51.100.7:4711"`}, "", "198.51.100.7"},
		{"IPv6 in brackets, with a port", Forwarded, "127.0.0.1", []string{`for="[2001:db8:cafe::17]:4711"`}, "", "2001:db8:cafe::17"},
		{"IPv6 in brackets, an obfuscated port", Forwarded, "127.0.0.1", []string{`for="[2001:db8::7]:_p1"`}, "", "2001:db8::7"},
		{"a client's forged element stays left of the real one", Forwarded, "127.0.0.1", []string{"for=203.0.113.9, for=198.51.100.7"}, "", "198.51.100.7"},
		{"trusted inner proxies are skipped", Forwarded, "127.0.0.1/32, 10.0.0.0/8", []string{`for=203.0.113.9, for=198.51.100.7, for="10.1.2.3:80"`}, "", "198.51.100.7"},
		{"several header lines read as one list", Forwarded, "127.0.0.1/32,10.0.0.0/8", []string{"for=198.51.100.7", "for=10.1.2.3"}, "", "198.51.100.7"},
		{"a comma inside quotes splits nothing", Forwarded, "127.0.0.1/32,10.0.0.0/8", []string{`for=198.51.100.7;ext="a,for=10.1.2.3"`}, "", "198.51.100.7"},
		{"an obfuscated node stops the walk", Forwarded, "127.0.0.1/32,10.0.0.0/8", []string{"for=198.51.100.7, for=_hidden, for=10.1.2.3"}, "", "10.1.2.3"},
		{"unknown stops the walk", Forwarded, "127.0.0.1/32", []string{"for=198.51.100.7, for=unknown"}, "", "127.0.0.1"},
		{"an element without for= stops the walk", Forwarded, "127.0.0.1/32", []string{"for=198.51.100.7, proto=https"}, "", "127.0.0.1"},
		{"IPv6 outside brackets is not a node", Forwarded, "127.0.0.1/32", []string{"for=198.51.100.7, for=2001:db8::7"}, "", "127.0.0.1"},
		{"IPv4 in brackets is not a node", Forwarded, "127.0.0.1/32", []string{`for="[198.51.100.7]"`}, "", "127.0.0.1"},
		{"an unterminated quote stops the walk", Forwarded, "127.0.0.1/32", []string{`for="198.51.100.7`}, "", "127.0.0.1"},
		{"a client's open quote does not swallow the proxy's element", Forwarded, "127.0.0.1/32", []string{`for="203.0.113.9, for=198.51.100.7`}, "", "198.51.100.7"},
		{"nor does a client's quote closed by the proxy's", Forwarded, "127.0.0.1/32", []string{`for=203.0.113.9;x=", for="198.51.100.7:80"`}, "", "127.0.0.1"},
		{"or by the proxy's quoted node", Forwarded, "127.0.0.1/32", []string{`for="203.0.113.9, for="198.51.100.7:80"`}, "", "127.0.0.1"},
		{"quotes paired, the last one open", Forwarded, "127.0.0.1/32", []string{`for=", for=", for=", for=198.51.100.7`}, "", "198.51.100.7"},
		{"X-Forwarded-For is not read", Forwarded, "127.0.0.1/32", nil, "198.51.100.7", "127.0.0.1"},
		{"X-Forwarded-For is not read beside Forwarded", Forwarded, "127.0.0.1/32", []string{"for=198.51.100.7"}, "203.0.113.9", "198.51.100.7"},
		{"Forwarded is not read behind X-Forwarded-For proxies", XForwardedFor, "127.0.0.1/32", []string{"for=203.0.113.9"}, "198.51.100.7", "198.51.100.7"},
		{"nor alone", XForwardedFor, "127.0.0.1/32", []string{"for=203.0.113.9"}, "", "127.0.0.1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := http.Header{}
			for _, v := range c.forwarded {
				h.Add("Forwarded", v)
			}
			if c.xff != "" {
				h.Set("X-Forwarded-For", c.xff)
			}
			if got := resolveOverHTTP(t, c.trusted, c.header, h); got != c.want {
				t.Fatalf("client %q, want %q", got, c.want)
			}
		})
	}
}

// resolveOverHTTP sends a real request over loopback with header to a
// server whose resolver trusts the proxies trusted and reads the header
// named, and returns the client address the server resolved.
func resolveOverHTTP(t *testing.T, trusted string, named Header, header http.Header) string {
	t.Helper()
	proxies, err := ParseTrusted(trusted)
	if err != nil {
		t.Fatal(err)
	}
	res := NewResolver(proxies, named)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, Of(res.Attach(r)))
	}))
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Header = header
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestParseHeader(t *testing.T) {
	for in, want := range map[string]Header{"": XForwardedFor, "x-forwarded-for": XForwardedFor, "X-Forwarded-For": XForwardedFor,
		" Forwarded ": Forwarded, "forwarded": Forwarded} {
		if got, err := ParseHeader(in); err != nil || got != want {
			t.Errorf("ParseHeader(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"x-real-ip", "forwarded-for", "both"} {
		if _, err := ParseHeader(bad); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("ParseHeader(%q): %v", bad, err)
		}
	}
}

// Without the middleware (a handler tested alone) the connection's address
// is the client's, without its port.
func TestOfWithoutResolver(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "[2001:db8::1]:5555"
	r.Header.Set("X-Forwarded-For", "198.51.100.7")
	if got := Of(r); got != "2001:db8::1" {
		t.Fatalf("Of = %q", got)
	}
}

func TestParseTrusted(t *testing.T) {
	got, err := ParseTrusted(" 10.0.0.1/8 ,192.0.2.4, fd00::/8,")
	if err != nil || len(got) != 3 || got[0].String() != "10.0.0.0/8" || got[1].String() != "192.0.2.4/32" || got[2].String() != "fd00::/8" {
		t.Fatalf("%v %v", got, err)
	}
	for _, bad := range []string{"10.0.0/8", "example.com", "10.0.0.0/33", "0.0.0.0/0", "::/0"} {
		if _, err := ParseTrusted(bad); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
