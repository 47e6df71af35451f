// Package app wires OpenPSP together: configuration, database, keyring,
// domain services, HTTP routes and background jobs. The e2e tests boot
// exactly this, on 127.0.0.1:0.
package app

import (
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
	"time"

	"github.com/openpsp/openpsp/internal/acquirer"
	"github.com/openpsp/openpsp/internal/acquirer/simulator"
	v4 "github.com/openpsp/openpsp/internal/api/v4"
	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/config"
	"github.com/openpsp/openpsp/internal/obs"
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

	mux         *http.ServeMux
	jobs        []job
	jobInterval time.Duration
	draining    atomic.Bool
	listener    net.Listener
	server      *http.Server
	closeOnce   sync.Once
	mounts      []func(*http.ServeMux)
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
	a := &App{Config: cfg, Clock: opts.Clock, Metrics: obs.NewMetrics(), jobInterval: opts.JobInterval}
	a.Log = obs.NewLogger(opts.LogOutput, cfg.LogFormat, cfg.LogLevel)

	keys, err := vault.LoadKeyring(cfg.KeyringFile, cfg.MasterKeys, cfg.Env != config.EnvProduction)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
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
	applied, err := db.Migrate(ctx)
	if err != nil {
		db.Close()
		return nil, err
	}
	if len(applied) > 0 {
		a.Log.Info("database migrated", "engine", db.Dialect(), "applied", applied)
	}
	a.Shops = shop.NewService(db, keys, a.Clock)
	a.Vault = vault.New(db, keys, a.Clock)

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
	a.V4 = v4.New(v4.Options{Auth: a.Shops, Clock: a.Clock, Logger: a.Log, Observe: a.Metrics.ObserveWebService, Wrap: a.idem.Wrap})
	a.V4.RegisterBase()
	if err := a.wire(); err != nil {
		db.Close()
		return nil, err
	}
	a.mux = a.routes()
	return a, nil
}

// Handler returns the app's HTTP handler with its middleware.
func (a *App) Handler() http.Handler { return a.middleware(a.mux) }

// Listen opens the listening socket (cfg.Addr; "127.0.0.1:0" picks a port).
func (a *App) Listen() error {
	ln, err := net.Listen("tcp", a.Config.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", a.Config.Addr, err)
	}
	a.listener = ln
	return nil
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
// gracefully: readiness turns false, requests are still served for the
// drain delay, in-flight requests finish (up to the shutdown timeout), jobs stop, queued writes commit, the database closes.
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
	var jobsDone sync.WaitGroup
	if a.Config.Jobs {
		a.startJobs(jobCtx, &jobsDone)
	}
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
	stopJobs()
	jobsDone.Wait()
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
