package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/openpsp/openpsp/internal/acquirer/simulator"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// tcpProxy forwards a loopback port to PostgreSQL; cut() drops every
// connection and refuses new ones (the database is gone), restore() lets
// them through again.
type tcpProxy struct {
	ln       net.Listener
	upstream string
	mu       sync.Mutex
	down     bool
	conns    map[net.Conn]bool
}

func newTCPProxy(t *testing.T, upstream string) *tcpProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{ln: ln, upstream: upstream, conns: map[net.Conn]bool{}}
	go p.serve()
	t.Cleanup(func() { ln.Close(); p.cut() })
	return p
}

func (p *tcpProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			c.Close()
			continue
		}
		up, err := net.DialTimeout("tcp", p.upstream, 5*time.Second)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c], p.conns[up] = true, true
		p.mu.Unlock()
		go func() { io.Copy(up, c); up.Close(); c.Close() }()
		go func() { io.Copy(c, up); up.Close(); c.Close() }()
	}
}

func (p *tcpProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		c.Close()
	}
	p.conns = map[net.Conn]bool{}
}

func (p *tcpProxy) restore() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}

func (p *tcpProxy) addr() string { return p.ln.Addr().String() }

func getStatus(t *testing.T, u string) int {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// faultChecks is what both engines must show while their storage fails and
// after it is back.
func faultChecks(t *testing.T, base string, pay func(orderID string) payResult, breakIt, repair func()) {
	ctx := context.Background()
	var before []payResult
	for i := 0; i < 5; i++ {
		r := pay(fmt.Sprintf("before-%d", i))
		if r.outcome != acknowledged {
			t.Fatalf("payment before the fault: %+v", r)
		}
		before = append(before, r)
	}

	breakIt()
	// Payments now fail with a clear V4 error, never an HTTP 500 or a cut
	// connection; readiness says 503 so a load balancer stops sending work.
	var during []payResult
	sawError := false
	for i := 0; i < 40 && !sawError; i++ {
		r := pay(fmt.Sprintf("during-%d", i))
		during = append(during, r)
		if r.outcome == uncertain && r.errorCode == "" {
			t.Fatalf("payment while the database is unavailable got no V4 answer: %v", r.err)
		}
		if r.outcome != acknowledged {
			sawError = true
			if !strings.HasPrefix(r.errorCode, "INT_") {
				t.Fatalf("payment while the database is unavailable: error code %q (%v), want INT_…", r.errorCode, r.err)
			}
		}
	}
	if !sawError {
		t.Fatal("40 payments succeeded while the database was unavailable")
	}
	last := during[len(during)-1]
	t.Logf("storage failing: %d payments tried, the last answered %s (%v)", len(during), last.errorCode, last.err)
	if err := pollUntil(15*time.Second, 100*time.Millisecond, func() error {
		if c := getStatus(t, base+"/readyz"); c != http.StatusServiceUnavailable {
			return fmt.Errorf("readyz answered %d while the database is unavailable", c)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if c := getStatus(t, base+"/healthz"); c != http.StatusOK {
		t.Fatalf("healthz %d: the process is alive", c)
	}

	repair()
	repaired := time.Now()
	// Recovery by itself: no restart.
	if err := pollUntil(30*time.Second, 100*time.Millisecond, func() error {
		if c := getStatus(t, base+"/readyz"); c != http.StatusOK {
			return fmt.Errorf("readyz answered %d after the database came back", c)
		}
		if r := pay(fmt.Sprintf("after-%d", time.Now().UnixNano())); r.outcome != acknowledged {
			return fmt.Errorf("payment after the database came back: %+v", r)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	t.Logf("ready and paying again %s after the storage came back", time.Since(repaired).Round(time.Millisecond))
	// Nothing acknowledged was lost, nothing failed was half-recorded: a
	// failed payment has no transaction, or one that recovery settles.
	for _, r := range before {
		txs, err := orderGet(ctx, base, r.orderID)
		if err != nil || len(txs) != 1 || txs[0].UUID != r.uuid {
			t.Fatalf("acknowledged %s after the fault: %+v %v", r.orderID, txs, err)
		}
	}
	if err := pollUntil(recoveryDeadline(), 250*time.Millisecond, func() error {
		for _, r := range during {
			txs, err := orderGet(ctx, base, r.orderID)
			if err != nil {
				return err
			}
			if len(txs) > 1 {
				return fmt.Errorf("%s: %d transactions", r.orderID, len(txs))
			}
			for _, tx := range txs {
				if tx.Status == "RUNNING" {
					return fmt.Errorf("%s still RUNNING after the database came back", r.orderID)
				}
				if r.outcome == acknowledged && tx.UUID != r.uuid {
					return fmt.Errorf("%s: uuid changed", r.orderID)
				}
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// PostgreSQL goes away (every connection cut, new ones refused) under a
// running server, then comes back.
func TestResilienceDatabaseUnavailable(t *testing.T) {
	storetest.RequirePostgres(t)
	dbURL := storetest.NewMigratedPostgresDatabase(t)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newTCPProxy(t, u.Host)
	u.Host = proxy.addr()
	d := &deployment{engine: "postgres", dir: filepath.Join(t.TempDir(), "data"), dbURL: u.String()}
	d.seedTokens(t, map[string]string{"dbdown": acceptedCard})
	s := d.startApp(t, appOpts{acquirer: simulator.New(simulator.Config{})})
	ipn := newIPNReceiver(t)
	pay := func(orderID string) payResult {
		return silentPay(context.Background(), s.URL, orderID, "dbdown", ipn.URL())
	}
	faultChecks(t, s.URL, pay, proxy.cut, proxy.restore)
}

// The disk fills up under SQLite (the process may not grow its files any
// more: RLIMIT_FSIZE, which makes writes fail with EFBIG as on a full
// disk), then space comes back. The database file stays intact.
func TestResilienceDiskFull(t *testing.T) {
	d := newDeployment(t, "sqlite")
	d.seedTokens(t, map[string]string{"diskfull": acceptedCard})
	p := startBinary(t, t.TempDir(), d.env()...)
	pid := p.cmd.Process.Pid
	ipn := newIPNReceiver(t)
	pay := func(orderID string) payResult {
		return silentPay(context.Background(), p.URL, orderID, "diskfull", ipn.URL())
	}
	setLimit := func(n uint64) {
		lim := unix.Rlimit{Cur: n, Max: unix.RLIM_INFINITY}
		if err := unix.Prlimit(pid, unix.RLIMIT_FSIZE, &lim, nil); err != nil {
			t.Fatalf("prlimit: %v", err)
		}
	}
	full := func() {
		// No file of the process may grow past what the database file
		// holds now: the next WAL frames or checkpointed pages fail.
		st, err := os.Stat(filepath.Join(d.dir, "openpsp.db"))
		if err != nil {
			t.Fatal(err)
		}
		setLimit(uint64(st.Size()) / 2)
	}
	faultChecks(t, p.URL, pay, full, func() { setLimit(unix.RLIM_INFINITY) })

	// Stop it and check the file.
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	<-p.done
	db, err := sql.Open("sqlite", "file:"+filepath.Join(d.dir, "openpsp.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var res string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&res); err != nil || res != "ok" {
		t.Fatalf("integrity_check after the disk was full: %q %v", res, err)
	}
}
