// Package app wires OpenPSP together: configuration, database, keyring,
// domain services, HTTP routes and background jobs. The e2e tests boot
// exactly this, on 127.0.0.1:0.
package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/openpsp/openpsp/internal/acquirer"
	"github.com/openpsp/openpsp/internal/acquirer/simulator"
	v4 "github.com/openpsp/openpsp/internal/api/v4"
	"github.com/openpsp/openpsp/internal/clientip"
	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/config"
	"github.com/openpsp/openpsp/internal/hosted"
	"github.com/openpsp/openpsp/internal/obs"
	"github.com/openpsp/openpsp/internal/ogone"
	"github.com/openpsp/openpsp/internal/outbox"
	"github.com/openpsp/openpsp/internal/payment"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/subscription"
	"github.com/openpsp/openpsp/internal/vault"
	"github.com/openpsp/openpsp/internal/wallet"
)

// Options are what tests (and the bench command) may replace.
type Options struct {
	Clock     clock.Clock
	Acquirer  *simulator.Simulator // nil: a new built-in test acquirer
	LogOutput io.Writer            // nil: stderr
	// JobInterval is how often background jobs poll (default 1s).
	JobInterval time.Duration
	// CaptureBatch is how many captures the capture job claims at a time
	// (default 500); tests lower it to make a backlog of several batches.
	CaptureBatch int
	// SchemaCheckInterval is how often a running copy reads the
	// database's newest migration (default 5s; see watchSchema).
	SchemaCheckInterval time.Duration
	// Listener is a socket the caller opened with OpenListener before New
	// (serve binds its port before creating the database); nil: Listen or
	// Run opens cfg.Addr. The App closes it once New succeeded; when New
	// fails, the caller does.
	Listener net.Listener
	// KeyMaintenance loads the keyring with vault.LoadKeyringToRetire: the
	// `openpsp keys` commands that repair a keyring whose fingerprint key
	// is also a master key, which any other start refuses.
	KeyMaintenance bool
	// MigrationProgress, when set, is told of each migration New applies
	// (`openpsp migrate` prints them); nil: they go to the log.
	MigrationProgress func(store.MigrationStep)
}

// App is a running OpenPSP.
type App struct {
	Config  config.Config
	Log     *slog.Logger
	Clock   clock.Clock
	DB      *store.DB
	Keys    *vault.Keyring
	Vault   *vault.Vault
	Shops   *shop.Service
	Metrics *obs.Metrics
	Sim     *simulator.Simulator
	// Acquirer is the connector payments go through; Authenticator runs 3-D Secure.
	Acquirer      acquirer.Connector
	Authenticator acquirer.Authenticator
	V4            *v4.Server
	Payments      *payment.Service
	Wallet        *wallet.Service
	Subscriptions *subscription.Service
	Dispatcher    *outbox.Dispatcher

	idem    *v4.Idempotency
	daemons []daemon
	logins  *obs.FailedLogins  // shared by the API surfaces: one limit on the log lines of a flood
	clients *clientip.Resolver // the client's address behind OPENPSP_TRUSTED_PROXIES

	mux          *http.ServeMux
	pages        *hosted.Handler // the buyer's pages; their message page answers unknown addresses
	ogone        *ogone.Handler  // FlexCheckout and DirectLink
	jobs         []job
	jobInterval  time.Duration
	captureBatch int
	draining     atomic.Bool
	readyErrs    obs.LogLimiter // failed /readyz probes (see notReady)
	// newerSchema is set, once and for good, when a newer release has
	// migrated the database under this running copy (see schema.go).
	newerSchema     atomic.Pointer[store.NewerSchemaError]
	newerSchemaOnce sync.Once
	newerSchemaC    chan struct{} // closed when newerSchema is set
	schemaEvery     time.Duration
	listener        net.Listener
	server          *http.Server
	closeOnce       sync.Once
	mounts          []func(*http.ServeMux)
}

// logMigration logs each migration New applies: one that builds an index
// on a large table runs for minutes, and a start that says nothing until
// then looks stuck. A fresh database's (the first start: empty tables,
// every migration quick) are logged at debug level, so that a newcomer's
// first screen is the banner, not a line per migration; the summary
// ("database migrated") says what was applied.
func (a *App) logMigration(s store.MigrationStep) {
	level := slog.LevelInfo
	if s.Fresh {
		level = slog.LevelDebug
	}
	if !s.Done {
		a.Log.Log(context.Background(), level, "applying migration", "migration", s.Version, "n", s.N, "of", s.Of)
		return
	}
	a.Log.Log(context.Background(), level, "migration applied", "migration", s.Version, "n", s.N, "of", s.Of, "took", s.Took.Round(time.Millisecond))
}

// New opens the database, migrates it, seeds the demo shop when configured
// and builds every service. It does not listen yet.
func New(ctx context.Context, cfg config.Config, opts Options) (*App, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.LogOutput == nil {
		opts.LogOutput = os.Stderr
	}
	if opts.JobInterval <= 0 {
		opts.JobInterval = time.Second
	}
	if opts.SchemaCheckInterval <= 0 {
		opts.SchemaCheckInterval = 5 * time.Second
	}
	a := &App{Config: cfg, Clock: opts.Clock, Metrics: obs.NewMetrics(), jobInterval: opts.JobInterval, captureBatch: cmp.Or(opts.CaptureBatch, 500), schemaEvery: opts.SchemaCheckInterval,
		clients: clientip.NewResolver(cfg.TrustedProxies, cfg.ForwardedHeader), listener: opts.Listener}
	a.Log = obs.NewLogger(opts.LogOutput, cfg.LogFormat, cfg.LogLevel)

	loadKeyring := vault.LoadKeyring
	if opts.KeyMaintenance {
		loadKeyring = vault.LoadKeyringToRetire
	}
	keys, err := loadKeyring(cfg.KeyringFile, cfg.MasterKeys, cfg.Env != config.EnvProduction)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	if cfg.Env == config.EnvProduction && keys.DevelopmentOnly() {
		return nil, fmt.Errorf("invalid configuration:\n  - the keyring %s was generated by a development run: production will not seal card data with it; "+
			"set OPENPSP_MASTER_KEYS (generate one with `openpsp keys generate`) or point OPENPSP_KEYRING_FILE at a keyring made for production, "+
			"and keep the development keyring away from production's OPENPSP_KEYRING_FILE and data folder", cfg.KeyringFile)
	}
	a.Keys = keys
	db, err := store.Open(ctx, store.Options{URL: cfg.DatabaseURL, DataDir: cfg.DataDir, Synchronous: cfg.SQLiteSync})
	if err != nil {
		return nil, err
	}
	a.DB = db
	a.Metrics.RegisterWrites(func() (int64, int64, int64) {
		st := db.WriteStats()
		return st.Requests, st.Commits, st.WALSyncs
	})
	a.Metrics.RegisterPending(a.opAges(func(ctx context.Context, _ time.Time) (map[string]store.PendingOp, error) {
		return db.PendingOps(ctx)
	}))
	a.Metrics.RegisterRetrying(a.opAges(db.RetryingOps))
	a.Metrics.RegisterDue(a.opAges(db.DueOps))
	migrationProgress := opts.MigrationProgress
	if migrationProgress == nil {
		migrationProgress = a.logMigration
	}
	migrateStart := time.Now()
	applied, err := db.MigrateReporting(ctx, migrationProgress)
	if err != nil {
		db.Close()
		return nil, err
	}
	if len(applied) > 0 && opts.MigrationProgress == nil {
		a.Log.Info("database migrated", "engine", db.Dialect(), "applied", applied, "took", time.Since(migrateStart).Round(time.Millisecond))
	}
	if err := a.checkFingerprintKey(ctx); err != nil {
		db.Close()
		return nil, err
	}
	a.Shops = shop.NewService(db, keys, a.Clock)
	a.Shops.SetProduction(cfg.Env == config.EnvProduction)
	a.Vault = vault.New(db, keys, a.Clock)
	// DirectLink passwords stored before migration 0032 as a bare SHA-256:
	// key them before serving (a no-op once done).
	if n, err := a.Shops.UpgradeDirectLinkPasswords(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("upgrade DirectLink passwords: %w", err)
	} else if n > 0 {
		a.Log.Info("DirectLink passwords rewritten as keyed verifiers", "accounts", n)
	}
	// Tokens written before migration 0029 keep their holder name in
	// clear: seal them before serving (a no-op once done).
	if n, err := a.Vault.SealClearHolderNames(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("seal card holder names: %w", err)
	} else if n > 0 {
		a.Log.Info("card holder names sealed", "tokens", n)
	}

	a.Sim = opts.Acquirer
	if a.Sim == nil {
		// The test acquirer keeps its operations in the database, like a
		// remote acquirer that outlives our crashes and that every copy
		// sharing the database talks to.
		a.Sim = simulator.New(simulator.Config{Clock: a.Clock, Journal: db})
	}
	a.Acquirer, a.Authenticator = a.Sim, a.Sim

	if cfg.Demo {
		// No notification URL: the demo merchant names its own ipnTargetUrl
		// on each payment, which stays right whatever port the server gets.
		created, err := a.Shops.SeedDemo(ctx, "")
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("seed demo shop: %w", err)
		}
		if created {
			a.Log.Info("demo shop created", "shop", shop.DemoShopID)
		}
	}

	a.idem = v4.NewIdempotency(db, a.Clock, a.Log)
	a.logins = obs.NewFailedLogins(a.Log, a.Clock)
	// Failed API logins are counted in the database: every copy honours a
	// lock, and a restart keeps it.
	a.logins.Share(db)
	a.V4 = v4.New(v4.Options{Auth: a.Shops, Clock: a.Clock, Logger: a.Log, Observe: a.Metrics.ObserveWebService, Wrap: a.idem.Wrap,
		FailedLogins: a.logins})
	a.V4.RegisterBase()
	if err := a.wire(); err != nil {
		db.Close()
		return nil, err
	}
	a.mux = a.routes()
	return a, nil
}

// Handler returns the app's HTTP handler with its middleware.
func (a *App) Handler() http.Handler {
	return ogonePaths(a.middleware(a.refuseOnNewerSchema(a.unmatched(a.mux))))
}

// Listen opens the listening socket (cfg.Addr; "127.0.0.1:0" picks a port).
func (a *App) Listen() error {
	ln, err := OpenListener(a.Config.Addr)
	if err != nil {
		return err
	}
	a.listener = ln
	return nil
}

// OpenListener opens a listening socket on addr, for Options.Listener or
// Listen; a taken address is refused with how to choose another.
func OpenListener(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		// The first thing a new user meets when 8080 is taken: say how to
		// choose another address.
		return nil, fmt.Errorf("listen on %s: %w (another program listens there: choose another address with OPENPSP_ADDR or -addr, e.g. 127.0.0.1:8081)", addr, err)
	}
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	return ln, nil
}

// URL is the base URL the server listens on.
func (a *App) URL() string {
	if a.listener == nil {
		return a.Config.PublicURL
	}
	return "http://" + a.listener.Addr().String()
}

// PublicURL is how buyers and merchants reach this server: the configured
// public URL, or the listener's URL when the configured port is 0 (tests).
func (a *App) PublicURL() string {
	if strings.HasSuffix(a.Config.PublicURL, ":0") {
		return a.URL()
	}
	return a.Config.PublicURL
}

// Run serves HTTP and runs background jobs until ctx ends, then shuts down
// gracefully: readiness turns false while requests, and the background
// work, go on for the drain delay (an IPN or email of a payment accepted
// then is delivered by this copy); when the drain ends in-flight requests
// finish, then the background work stops taking more (the outbox
// dispatcher claims and takes no message, no job run starts) and the
// deliveries and job runs in progress finish, all within the shutdown
// timeout; what is still running then is cut (an undelivered message goes
// back to PENDING, to be retried); queued writes commit, the database
// closes.
func (a *App) Run(ctx context.Context) error {
	if a.listener == nil {
		if err := a.Listen(); err != nil {
			return err
		}
	}
	a.server = &http.Server{
		Handler:           a.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(a.Log.Handler(), slog.LevelWarn),
	}
	jobCtx, stopJobs := context.WithCancel(context.Background())
	defer stopJobs()
	// Closed when the drain ends: the background work takes no more. Cancelling
	// jobCtx instead cut a delivery the merchant may already have taken
	// (answered 200 but recorded nowhere, it was sent again after the
	// restart).
	shutdown := make(chan struct{})
	var jobsDone, schemaDone sync.WaitGroup
	if a.Config.Jobs {
		a.startJobs(jobCtx, shutdown, &jobsDone)
	}
	// Requests are refused on a newer schema whether or not this copy
	// runs jobs: the check runs on every copy, as long as requests are
	// served.
	schemaDone.Add(1)
	go func() {
		defer schemaDone.Done()
		a.watchSchema(jobCtx, a.schemaEvery)
	}()
	serveErr := make(chan error, 1)
	go func() { serveErr <- a.server.Serve(a.listener) }()

	var err error
	select {
	case <-ctx.Done():
	case err = <-serveErr:
	}
	a.draining.Store(true)
	if d := a.Config.ShutdownDrain; d > 0 && err == nil {
		// The listener stays open: a load balancer sees /readyz fail
		// and stops sending requests before they would be refused.
		a.Log.Info("shutting down: draining, /readyz answers 503 while requests are still served", "drain", d)
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case err = <-serveErr:
			t.Stop()
		}
	}
	a.Log.Info("shutting down: finishing in-flight requests", "timeout", a.Config.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), a.Config.ShutdownTimeout)
	defer cancel()
	if serr := a.server.Shutdown(sctx); serr != nil {
		a.Log.Error("graceful shutdown incomplete", "err", serr)
	}
	// The background work stops taking more only now, once no request is
	// served: closed at the signal, a payment accepted during the drain
	// or by a last request had its IPN and emails left PENDING until
	// another copy or the restart (on a single copy, the merchant waited
	// for the restart).
	close(shutdown)
	jobsFinished := make(chan struct{})
	go func() {
		jobsDone.Wait()
		close(jobsFinished)
	}()
	if a.Config.Jobs {
		// What is left of the shutdown timeout the requests used first.
		left, _ := sctx.Deadline()
		a.Log.Info("shutting down: no new deliveries or job runs, those in progress may finish",
			"within", time.Until(left).Round(time.Millisecond))
	}
	// Deliveries and job runs in progress have until the requests' own
	// deadline; a second SIGTERM or SIGINT does not wait for it (main).
	select {
	case <-jobsFinished:
	case <-sctx.Done():
		a.Log.Warn("shutting down: the shutdown timeout ended, deliveries and job runs still in progress are cut (undelivered messages are retried)",
			"timeout", a.Config.ShutdownTimeout)
	}
	stopJobs()
	<-jobsFinished
	schemaDone.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// Close releases the database (after Run returned, or when Run never ran).
func (a *App) Close() error {
	var err error
	a.closeOnce.Do(func() {
		if a.listener != nil && a.server == nil {
			a.listener.Close()
		}
		err = a.DB.Close()
	})
	return err
}

// opAges turns read, a /metrics query of the store at now (PendingOps,
// RetryingOps, DueOps), into the gauges' read at scrape: each
// operation's oldest time becomes its age now.
func (a *App) opAges(read func(context.Context, time.Time) (map[string]store.PendingOp, error)) obs.PendingOps {
	return func() (map[string]obs.PendingOp, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		now := a.Clock.Now()
		ops, err := read(ctx, now)
		if err != nil {
			return nil, err
		}
		out := make(map[string]obs.PendingOp, len(ops))
		for op, p := range ops {
			var age time.Duration // none pending: 0
			if !p.OldestStart.IsZero() {
				age = max(now.Sub(p.OldestStart), 0)
			}
			out[op] = obs.PendingOp{Count: p.Count, OldestAge: age}
		}
		return out, nil
	}
}
