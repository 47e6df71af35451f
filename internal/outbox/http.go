package outbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"

	"github.com/openpsp/openpsp/internal/version"
)

// HTTPOptions configures the HTTP client of the IPN and webhook deliverers.
type HTTPOptions struct {
	// Timeout bounds one request (default 20s).
	Timeout time.Duration
	// BlockPrivateNetworks refuses to connect to loopback, private,
	// link-local and other non-public addresses, so that a merchant's
	// notification URL cannot reach the operator's internal network. Off by
	// default: a development machine posts to a local receiver.
	BlockPrivateNetworks bool
	// Client replaces the whole client (tests); the options above are then ignored.
	Client *http.Client
}

// ErrBlockedAddress is returned when BlockPrivateNetworks refuses a target.
var ErrBlockedAddress = errors.New("outbox: target address is not public")

func newHTTPClient(o HTTPOptions) *http.Client {
	if o.Client != nil {
		return o.Client
	}
	if o.Timeout <= 0 {
		o.Timeout = 20 * time.Second
	}
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if o.BlockPrivateNetworks {
		// Checked on the address actually dialled, after DNS resolution, so a
		// name that resolves to 127.0.0.1 is refused too.
		dialer.Control = func(_, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			ip, err := netip.ParseAddr(host)
			if err != nil {
				return err
			}
			if !publicAddr(ip.Unmap()) {
				return fmt.Errorf("%w: %s", ErrBlockedAddress, ip)
			}
			return nil
		}
	}
	// Many IPNs go to one merchant at once (up to one per dispatcher
	// worker): keep their connections rather than open one per message.
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   128,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   o.Timeout,
		// A redirect is not an acknowledgement: PayZen IPN senders do not
		// follow them either, and following one could turn a POST into a GET.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func publicAddr(ip netip.Addr) bool {
	return ip.IsValid() && ip.IsGlobalUnicast() && !ip.IsPrivate() && !ip.IsLoopback() &&
		!ip.IsLinkLocalUnicast() && !netip.MustParsePrefix("100.64.0.0/10").Contains(ip)
}

var userAgent = "OpenPSP/" + version.Version

// post sends body to target and reads the beginning of the answer. Any 2xx
// is success; everything else is an error carrying the status.
func post(ctx context.Context, c *http.Client, target, contentType string, body []byte, header http.Header) (Outcome, error) {
	return send(ctx, c, http.MethodPost, target, contentType, body, header)
}

// send makes the request (a body only with contentType) to an http(s)
// target and reads the beginning of the answer.
func send(ctx context.Context, c *http.Client, method, target, contentType string, body []byte, header http.Header) (Outcome, error) {
	var rd io.Reader
	if contentType != "" {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return Outcome{}, Permanent(fmt.Errorf("invalid target URL: %w", err))
	}
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return Outcome{}, Permanent(fmt.Errorf("target URL must be http or https, not %q", req.URL.Scheme))
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("User-Agent", userAgent)
	return do(c, req)
}

// do sends req and reads the beginning of the answer.
func do(c *http.Client, req *http.Request) (Outcome, error) {
	resp, err := c.Do(req)
	if err != nil {
		return Outcome{}, err
	}
	defer resp.Body.Close()
	excerpt, _ := io.ReadAll(io.LimitReader(resp.Body, ResponseExcerptBytes))
	// Drain a little more so the connection can be reused; give up on big answers.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	out := Outcome{StatusCode: resp.StatusCode, Response: string(excerpt)}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return out, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return out, nil
}

// NewHTTPClient returns the client the IPN and webhook deliverers use,
// for a deliverer of another package (the Ogone post-sale request): the
// same timeout, private-network guard and redirect rule.
func NewHTTPClient(o HTTPOptions) *http.Client { return newHTTPClient(o) }

// SendForm sends form (application/x-www-form-urlencoded bytes) to target
// as the body of a POST, or, with method GET, as its query string (after
// any query the target has). Any 2xx is success, as for post.
func SendForm(ctx context.Context, c *http.Client, method, target string, form []byte, header http.Header) (Outcome, error) {
	if method != http.MethodGet {
		return post(ctx, c, target, "application/x-www-form-urlencoded", form, header)
	}
	sep := "?"
	if bytes.ContainsRune([]byte(target), '?') {
		sep = "&"
	}
	return send(ctx, c, http.MethodGet, target+sep+string(form), "", nil, header)
}
