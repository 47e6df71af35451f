package app

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/openpsp/openpsp/internal/store"
)

// A newer release may migrate the database under this running copy (copies
// sharing one PostgreSQL during a rolling upgrade). The copy then knows
// neither the new columns nor what the new rows mean: /readyz alone turned
// 503, and its jobs kept claiming work and the requests still reaching it
// (before the load balancer's next probe, on kept-alive connections) were
// served. Once it sees the newer schema, the copy stops working on it, for
// good (a schema never becomes older): its jobs make no new claim (a run in
// progress finishes), the outbox dispatcher stops claiming, /readyz answers
// 503 and every request is answered as when the database is unavailable,
// in its caller's format. The operator replaces the copy.

// watchSchema checks the database's schema every interval until ctx ends
// or the copy has found it newer.
func (a *App) watchSchema(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for a.newerSchema.Load() == nil {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		a.checkSchema(ctx)
	}
}

// checkSchema reads the database's newest migration (one row through the
// primary key) and enters the newer-schema state when it is newer than
// this binary's. Any other failure (the database unreachable for a moment)
// says nothing about the schema and changes nothing: /readyz and the jobs
// report outages themselves.
func (a *App) checkSchema(ctx context.Context) {
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var newer *store.NewerSchemaError
	if errors.As(a.DB.SchemaHealth(cctx), &newer) {
		a.enterNewerSchema(ctx, newer)
	}
}

// enterNewerSchema puts the copy in the newer-schema state and logs why,
// the first time only.
func (a *App) enterNewerSchema(ctx context.Context, e *store.NewerSchemaError) {
	if !a.newerSchema.CompareAndSwap(nil, e) {
		return
	}
	a.Log.ErrorContext(ctx, "database schema newer than this binary: background jobs paused, /readyz 503, requests refused until this copy is replaced",
		"database_migration", e.Database, "binary_migration", e.Binary)
	close(a.newerSchemaDone())
}

// newerSchemaDone is closed when the copy enters the newer-schema state.
func (a *App) newerSchemaDone() chan struct{} {
	a.newerSchemaOnce.Do(func() { a.newerSchemaC = make(chan struct{}) })
	return a.newerSchemaC
}

// refuseOnNewerSchema answers every request, once the schema is newer than
// this binary's, as the same request is answered when the database is
// unavailable: V4 INT_999 (HTTP 200), DirectLink NCERROR 40001011, and
// for a buyer the pages' temporarily-unavailable page (503, Retry-After;
// the form script's JSON error for its posts), framed for FlexCheckout's
// pages as for the embedded form's. The probes and the scraper still reach
// their handlers (/readyz answers 503 itself), and the browser the pages'
// static files.
func (a *App) refuseOnNewerSchema(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.newerSchema.Load() == nil {
			next.ServeHTTP(w, r)
			return
		}
		switch a.callerOf(r.URL.Path) {
		case callerProbe:
			next.ServeHTTP(w, r)
		case callerStatic:
			// The pages' stylesheets and scripts, files of the binary
			// that read no database: the unavailable page below looks
			// as the pages do.
			next.ServeHTTP(w, r)
		case callerV4:
			a.V4.Unavailable(w, r, "this server is being replaced by a newer release: retry")
		case callerDirectLink:
			a.ogone.Unavailable(w, r)
		case callerFlexCheckout:
			a.pages.Unavailable(w, r, true, r.URL.Query().Get("LAYOUT.LANGUAGE"))
		default:
			a.pages.Unavailable(w, r, false, "")
		}
	})
}

// caller is who sends a request, told by its path: each is answered in its
// own format when the app answers in place of the routes (a newer schema,
// a recovered panic).
type caller int

const (
	callerPage         caller = iota // a buyer's browser: every other address
	callerProbe                      // /healthz, /readyz, /metrics: a load balancer or a scraper reads the status
	callerStatic                     // the pages' stylesheets and scripts
	callerV4                         // a merchant's server: the REST API V4
	callerDirectLink                 // a merchant's server: Ingenico DirectLink
	callerFlexCheckout               // a buyer in the merchant's frame: FlexCheckout's pages
)

// callerOf tells who sends a request to path.
func (a *App) callerOf(p string) caller {
	switch {
	case p == "/metrics" || p == "/healthz" || p == "/readyz":
		return callerProbe
	case strings.HasPrefix(p, "/static/") || strings.HasPrefix(p, "/Tokenization/static/"):
		return callerStatic
	case p == "/api-payment" || strings.HasPrefix(p, "/api-payment/"):
		return callerV4
	case a.ogone != nil && a.ogone.IsDirectLink(p):
		return callerDirectLink
	case a.ogone != nil && a.ogone.IsFlexCheckout(p):
		return callerFlexCheckout
	}
	return callerPage
}
