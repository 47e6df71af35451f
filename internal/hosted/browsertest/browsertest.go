// Package browsertest starts a real headless Chromium for tests (chromedp),
// with the flags this machine needs, one fresh profile per test, and the
// console of the tab collected so a test can assert that a page raised no
// Content-Security-Policy violation or uncaught exception.
//
// The hosted pages' tests and the e2e suite share it:
//
//	ctx := browsertest.New(t)
//	err := chromedp.Do(ctx, chromedp.Navigate(url), …)
//	browsertest.NoConsoleErrors(t, ctx)
//
// Main shares one browser process among a package's tests (each test still
// gets an isolated browser context).
//
// When Chromium is missing the test is skipped with a visible notice, unless
// the environment variable CI is "true": there a missing browser fails.
package browsertest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// ChromiumPath is where Debian's chromium package installs the browser;
// OPENPSP_CHROMIUM overrides it.
const ChromiumPath = "/usr/bin/chromium"

// Timeout bounds one test's whole browser session, so a page that never
// reaches the expected state fails the test instead of hanging it.
const Timeout = 90 * time.Second

type consoleKey struct{}

type console struct {
	mu   sync.Mutex
	msgs []chromedp.ConsoleMessage
}

// shared is the one browser of a test binary that called Main.
var shared struct {
	mu      sync.Mutex
	enabled bool
	ctx     context.Context // a chromedp context whose browser is running
	cancel  func()
	dir     string
	err     error
}

// Main runs a package's tests with one Chromium process for all of them:
// each New then opens its tab in a new browser context (separate cookies,
// storage and cache, like a fresh profile) instead of starting a browser.
// Use it from TestMain:
//
//	func TestMain(m *testing.M) { browsertest.Main(m) }
func Main(m *testing.M) { os.Exit(Run(m)) }

// Run is Main for a TestMain that also needs another wrapper around
// m.Run: it returns the exit code instead of exiting.
func Run(m *testing.M) int {
	shared.mu.Lock()
	shared.enabled = true
	shared.mu.Unlock()
	code := m.Run()
	shared.mu.Lock()
	if shared.cancel != nil {
		shared.cancel()
	}
	if shared.dir != "" {
		_ = os.RemoveAll(shared.dir)
	}
	shared.mu.Unlock()
	return code
}

func chromiumPath(t testing.TB) string {
	t.Helper()
	path := ChromiumPath
	if p := os.Getenv("OPENPSP_CHROMIUM"); p != "" {
		path = p
	}
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("browsertest: no browser at %s (CI=true): install it with apt-get install -y --no-install-recommends chromium", path)
		}
		t.Skipf("browsertest: SKIPPED, no browser at %s; install it with apt-get install -y --no-install-recommends chromium (with CI=true this fails)", path)
	}
	return path
}

func allocatorOptions(path, dir string) []chromedp.ExecAllocatorOption {
	return append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox, // tests run as root here
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.UserDataDir(dir),
		chromedp.WindowSize(1024, 800),
	)
}

// New returns the context of a new browser tab for t, closed when the test
// ends. Without Main it starts a Chromium of its own with a fresh profile
// directory; with Main the tab is in a fresh browser context of the shared
// browser. Either way no state leaks between tests. The whole session is
// bounded by Timeout.
func New(t testing.TB) context.Context {
	t.Helper()
	path := chromiumPath(t)
	var ctx context.Context
	var cancels []func()
	shared.mu.Lock()
	useShared := shared.enabled
	if useShared && shared.ctx == nil && shared.err == nil {
		dir, err := os.MkdirTemp("", "browsertest-")
		if err != nil {
			shared.err = err
		} else {
			shared.dir = dir
			allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), allocatorOptions(path, dir)...)
			bctx, cancelBrowser := chromedp.NewContext(allocCtx)
			if err := chromedp.Do(bctx); err != nil {
				shared.err = err
				cancelBrowser()
				cancelAlloc()
			} else {
				shared.ctx = bctx
				shared.cancel = func() { cancelBrowser(); cancelAlloc() }
			}
		}
	}
	sharedCtx, sharedErr := shared.ctx, shared.err
	shared.mu.Unlock()

	if useShared {
		if sharedErr != nil {
			t.Fatalf("browsertest: starting %s: %v", path, sharedErr)
		}
		tab, cancelTab := chromedp.NewContext(sharedCtx, chromedp.WithNewBrowserContext())
		bounded, cancelTimeout := context.WithTimeout(tab, Timeout)
		ctx = bounded
		cancels = []func(){cancelTimeout, cancelTab}
	} else {
		base, cancelTimeout := context.WithTimeout(context.Background(), Timeout)
		allocCtx, cancelAlloc := chromedp.NewExecAllocator(base, allocatorOptions(path, t.TempDir())...)
		tab, cancelTab := chromedp.NewContext(allocCtx)
		ctx = tab
		cancels = []func(){cancelTab, cancelAlloc, cancelTimeout}
	}
	c := &console{}
	ctx = context.WithValue(ctx, consoleKey{}, c)
	t.Cleanup(func() {
		for _, cancel := range cancels {
			cancel()
		}
	})
	// Open the tab now, so a broken browser fails here.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("browsertest: opening a tab in %s: %v", path, err)
	}
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			c.mu.Lock()
			c.msgs = append(c.msgs, m)
			c.mu.Unlock()
		}
	}()
	return ctx
}

// Console returns the console messages the tab of ctx produced so far
// (console API calls, uncaught exceptions, browser log entries such as CSP
// violations), from every frame the tab's process renders.
func Console(ctx context.Context) []chromedp.ConsoleMessage {
	c, _ := ctx.Value(consoleKey{}).(*console)
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]chromedp.ConsoleMessage(nil), c.msgs...)
}

// Problems returns the console messages that point at a broken page:
// uncaught exceptions, Content-Security-Policy violations and
// console.error calls.
func Problems(ctx context.Context) []string {
	var out []string
	for _, m := range Console(ctx) {
		// Browsers ask every site for a favicon; a 404 there is no fault
		// of the page.
		if strings.Contains(m.URL, "/favicon.ico") {
			continue
		}
		switch {
		case m.IsException(),
			m.Type == chromedp.ConsoleError,
			strings.Contains(m.Text, "Content Security Policy"),
			strings.Contains(m.Text, "Content-Security-Policy"),
			strings.Contains(m.Text, "Trusted Type"):
			out = append(out, m.String()+" ("+m.URL+")")
		}
	}
	return out
}

// NoConsoleErrors fails t if the tab of ctx reported any of Problems.
func NoConsoleErrors(t testing.TB, ctx context.Context) {
	t.Helper()
	for _, p := range Problems(ctx) {
		t.Errorf("browser console: %s", p)
	}
}

// CSSRGB is a colour written #rrggbb as a computed style writes it,
// "rgb(r, g, b)", to compare with getComputedStyle; "" when hex is not
// #rrggbb.
func CSSRGB(hex string) string {
	var r, g, b uint8
	if len(hex) != 7 {
		return ""
	}
	if _, err := fmt.Sscanf(hex, "#%02x%02x%02x", &r, &g, &b); err != nil {
		return ""
	}
	return fmt.Sprintf("rgb(%d, %d, %d)", r, g, b)
}

// BlockFormScript makes the browser of ctx refuse the hosted form's script
// (form.js): the form is then posted and sent back as a page, as for a
// buyer whose script did not run.
func BlockFormScript(t testing.TB, ctx context.Context) {
	t.Helper()
	_, err := chromedp.Run(ctx, func(ctx context.Context, tg *chromedp.Target) (cdp.Empty, error) {
		if _, err := cdp.Call(ctx, tg, network.Enable, network.EnableParams{}); err != nil {
			return cdp.Empty{}, err
		}
		return cdp.Call(ctx, tg, network.SetBlockedURLs, network.SetBlockedURLsParams{
			URLPatterns: []*network.BlockPattern{{URLPattern: "*://*:*/static/hosted/form.js*", Block: true}}})
	})
	if err != nil {
		t.Fatalf("blocking the form's script: %v", err)
	}
}

// Text reads the text of the first node matching sel (waiting for it, as
// chromedp.Text does). A node found in a page that is being replaced (a
// form posted by the browser itself before the page's script ran, a
// navigation landing) is gone before its text is read: chromedp then fails
// with "No node with given id found" (seen in CI at loads of 20 and more).
// The read is tried again in the new page until ctx ends, so a test waits
// for the page it expects instead of failing on the one it is leaving.
func Text(sel string, opts ...chromedp.QueryOption) chromedp.Action[string] {
	return func(ctx context.Context, t *chromedp.Target) (string, error) {
		s, err := chromedp.Text(chromedp.CSS(sel), opts...)(ctx, t)
		for err != nil && strings.Contains(err.Error(), "No node with given id") && ctx.Err() == nil {
			time.Sleep(50 * time.Millisecond)
			s, err = chromedp.Text(chromedp.CSS(sel), opts...)(ctx, t)
		}
		return s, err
	}
}
