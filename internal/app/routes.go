package app

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/openpsp/openpsp/internal/clientip"
	"github.com/openpsp/openpsp/internal/hosted"
	"github.com/openpsp/openpsp/internal/obs"
	"github.com/openpsp/openpsp/internal/ogone"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store"
)

// routes is the one flat list of everything OpenPSP serves.
func (a *App) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/api-payment/V4/{name...}", a.V4)
	mux.HandleFunc("GET /healthz", a.healthz)
	mux.HandleFunc("GET /readyz", a.readyz)
	mux.Handle("GET /metrics", a.metricsAuth(promhttp.HandlerFor(a.Metrics.Registry, promhttp.HandlerOpts{})))
	for _, register := range a.mounts {
		register(mux)
	}
	return mux
}

// ogonePaths serves an address of Ingenico's pages written as a merchant's
// code may write it (another case, FlexCheckout's page with a trailing
// slash: ogone.CanonicalPath) at the address the mux mounts, as Ingenico's
// web server does.
func ogonePaths(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p, ok := ogone.CanonicalPath(r.URL.Path); ok && p != r.URL.Path {
			r2 := new(http.Request)
			*r2 = *r
			u := *r.URL
			u.Path, u.RawPath = p, ""
			r2.URL = &u
			r = r2
		}
		next.ServeHTTP(w, r)
	})
}

// metricsAuth asks for OPENPSP_METRICS_TOKEN as a bearer token when it is
// set: the metrics tell traffic, error rates and the database's load to
// whoever reads them, and /metrics is served on the public listener. Unset,
// /metrics stays open (a scraper on a private network, as before). The
// probes are not wrapped: a load balancer has no token.
func (a *App) metricsAuth(next http.Handler) http.Handler {
	token := a.Config.MetricsToken
	if token == "" {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The scheme is case-insensitive (RFC 9110 §11.1); the token is
		// compared in constant time, its length included.
		scheme, given, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || !shop.EqualSecret(strings.TrimSpace(given), token) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="openpsp metrics"`)
			http.Error(w, "401 unauthorized: /metrics needs the bearer token of OPENPSP_METRICS_TOKEN", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// unmatched gives the mux's own answers (404 for an address no route
// takes, 405 with Allow for a wrong method: text/plain "404 page not
// found") the format of whoever is calling: the payment pages' message
// page for a browser, a V4 error under /api-payment/. Of the routes' own
// answers, r.Pattern set, only a text/plain 404 is replaced the same way:
// Go's "404 page not found" of http.NotFound and http.FileServer, for a
// missing static file (/static/hosted/nope.css) or a demo mailbox message.
// A stylesheet or script load gets the page too: no browser shows that
// body, and under nosniff text/html is no more run or applied than
// text/plain, so one answer serves navigations and loads alike.
func (a *App) unmatched(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&unmatchedWriter{ResponseWriter: w, r: r, answer: a.answerUnmatched}, r)
	})
}

// answerUnmatched answers a request no route took, in place of the mux's
// text; false leaves the mux's answer.
func (a *App) answerUnmatched(w http.ResponseWriter, r *http.Request, status int) bool {
	switch p := r.URL.Path; {
	case p == "/metrics" || p == "/healthz" || p == "/readyz":
		// Probes and scrapers read the status, not a page.
		return false
	case p == "/api-payment" || strings.HasPrefix(p, "/api-payment/"):
		// A merchant's server with a wrong URL (V3, a lower-case v4)
		// reads a V4 error as for an unknown V4 web service. The name
		// keeps "api-payment/" so that it can never be a V4 service's.
		r.SetPathValue("name", strings.TrimPrefix(p, "/"))
		a.V4.ServeHTTP(w, r)
		return true
	}
	// Ogone answers an unknown /ncol/ page with its web server's 404 page,
	// in no format of its own (the ogone package has none): the message
	// page, as for every other address.
	key := hosted.MessagePageNotFound
	if status == http.StatusMethodNotAllowed {
		key = hosted.MessageMethodNotAllowed
	}
	a.pages.MessagePage(w, r, status, key, "")
	return true
}

// unmatchedWriter replaces the mux's own 404 and 405 (the mux sets
// r.Pattern before calling any handler, so an error written while it is
// empty is the mux's) and a route's plain-text 404.
type unmatchedWriter struct {
	http.ResponseWriter
	r        *http.Request
	answer   func(http.ResponseWriter, *http.Request, int) bool
	replaced bool
}

func (u *unmatchedWriter) WriteHeader(code int) {
	h := u.ResponseWriter.Header()
	ct := h.Get("Content-Type")
	mux := u.r.Pattern == "" && (code == http.StatusNotFound || code == http.StatusMethodNotAllowed)
	plainNotFound := code == http.StatusNotFound && strings.HasPrefix(ct, "text/plain")
	if !u.replaced && (mux || plainNotFound) {
		nosniff := h.Get("X-Content-Type-Options")
		h.Del("Content-Type")
		h.Del("X-Content-Type-Options")
		if u.replaced = u.answer(u.ResponseWriter, u.r, code); u.replaced {
			return
		}
		for k, v := range map[string]string{"Content-Type": ct, "X-Content-Type-Options": nosniff} {
			if v != "" {
				h.Set(k, v)
			}
		}
	}
	u.ResponseWriter.WriteHeader(code)
}

// Write drops the mux's text once its answer is replaced.
func (u *unmatchedWriter) Write(b []byte) (int, error) {
	if u.replaced {
		return len(b), nil
	}
	return u.ResponseWriter.Write(b)
}

func (u *unmatchedWriter) Unwrap() http.ResponseWriter { return u.ResponseWriter }

// healthz answers 200 while the process is alive and serving.
func (a *App) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 only when this copy can take traffic: the database
// answers, takes writes and has no migration newer than this binary's, and
// the copy is not shutting down.
func (a *App) readyz(w http.ResponseWriter, r *http.Request) {
	if a.draining.Load() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "draining"})
		return
	}
	// Entered for good (schema.go), and logged then: no query, no log.
	if a.newerSchema.Load() != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "database": schemaNewerState})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := a.DB.Ping(ctx); err != nil {
		a.notReady(r.Context(), "readiness: database unreachable", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "database": "unreachable"})
		return
	}
	if err := a.DB.WriteHealth(ctx); err != nil {
		a.notReady(r.Context(), "readiness: writes fail", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "database": "writes failing"})
		return
	}
	// A newer release may have migrated the database under this running
	// copy (copies sharing one PostgreSQL during an upgrade): it would
	// serve on a schema it does not know, so it takes no more traffic.
	if err := a.DB.SchemaHealth(ctx); err != nil {
		state := "schema unreadable"
		if newer := (*store.NewerSchemaError)(nil); errors.As(err, &newer) {
			// The probe saw it before the periodic check: the same
			// state, logged once there.
			a.enterNewerSchema(r.Context(), newer)
			state = schemaNewerState
		} else {
			a.notReady(r.Context(), "readiness: "+state, err)
		}
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "database": state})
		return
	}
	a.readyErrs.Recovered(r.Context(), a.Log, a.Clock.Now(), "readiness: database reachable again")
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready", "database": string(a.DB.Dialect())})
}

// schemaNewerState is /readyz's "database" once a newer release migrated it.
const schemaNewerState = "schema newer than this binary"

// notReady logs a failed readiness probe: a load balancer probes every few
// seconds, so an outage logs its first failure, then at most once a minute
// with how many were held back (as the outbox dispatcher does).
func (a *App) notReady(ctx context.Context, msg string, err error) {
	a.readyErrs.Failed(ctx, a.Log, slog.LevelWarn, a.Clock.Now(), msg, "err", err)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

type statusRecorder struct {
	http.ResponseWriter
	code    int
	bytes   int64 // of the body, for the access line
	started bool  // the status line is written: the answer can no longer change
}

func (s *statusRecorder) WriteHeader(code int) {
	s.code = code
	// An informational status (103 Early Hints) leaves the answer to come.
	s.started = s.started || code >= 200
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.started = true
	n, err := s.ResponseWriter.Write(b)
	s.bytes += int64(n)
	return n, err
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// loggableRequestID reports whether a client's X-Request-Id can be the
// request's id: 1 to 64 visible ASCII characters. The id echoed must be
// the one the log lines carry, and the JSON log writes invalid UTF-8 as
// U+FFFD while a text log splits at a tab or a space (net/http lets both
// through in a header value).
func loggableRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' {
			return false
		}
	}
	return true
}

// middleware gives every request an id (echoed in X-Request-Id and on every
// log line), recovers panics into an answer in the caller's format without
// leaking details (answerPanic), logs one access line, and records metrics
// by route pattern.
func (a *App) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if !loggableRequestID(id) {
			id = obs.NewRequestID()
		}
		ctx := obs.WithRequestID(r.Context(), id)
		r = r.WithContext(ctx)
		if a.clients != nil {
			r = a.clients.Attach(r)
		}
		w.Header().Set("X-Request-Id", id)
		if strings.HasPrefix(a.Config.PublicURL, "https://") {
			// Served over https (production requires it): browsers
			// must never reach the payment pages over plain http again,
			// where a card could be read or a page rewritten on the way.
			w.Header().Set("Strict-Transport-Security", "max-age=31536000")
		}
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		defer func() {
			p := recover()
			route := r.Pattern
			if route == "" {
				route = "unmatched"
			}
			// http.ErrAbortHandler is a handler's way to cut the
			// connection on purpose: no error, no answer.
			abort := p == http.ErrAbortHandler
			if p != nil && !abort {
				a.Log.ErrorContext(ctx, "panic serving request", "path", loggedPath(r.URL.Path), "panic", p)
				a.Metrics.HTTPPanics.WithLabelValues(route).Inc()
				if rec.started {
					// The answer began: another cannot replace it, and
					// it must not read as complete (net/http cuts the
					// connection, below).
					abort = true
				} else {
					a.answerPanic(rec, r, id)
				}
			}
			d := time.Since(start)
			a.Metrics.HTTPRequests.WithLabelValues(route, strconv.Itoa(rec.code)).Inc()
			a.Metrics.HTTPDuration.WithLabelValues(route).Observe(d.Seconds())
			a.accessLog(ctx, r, rec, d)
			if abort {
				panic(http.ErrAbortHandler)
			}
		}()
		next.ServeHTTP(rec, r)
	})
}

// answerPanic answers a request whose handler panicked before answering,
// in its caller's format as refuseOnNewerSchema does (callerOf), saying
// nothing of the panic: a V4 call INT_999, HTTP 200, as safeCall answers a
// web service's panic; DirectLink the NCERROR of a technical problem; a
// buyer the pages' technical-error page in their language, HTTP 500
// (hosted.InternalError), framed for FlexCheckout's pages; a probe or the
// scraper a bare 500, whose status is all it reads. The headers the
// handler set for its own answer (a content type, a frame policy) go, but
// the request id and HSTS stay.
func (a *App) answerPanic(w http.ResponseWriter, r *http.Request, id string) {
	h := w.Header()
	hsts := h.Get("Strict-Transport-Security")
	clear(h)
	h.Set("X-Request-Id", id)
	if hsts != "" {
		h.Set("Strict-Transport-Security", hsts)
	}
	switch a.callerOf(r.URL.Path) {
	case callerProbe:
		h.Set("Cache-Control", "no-store")
		http.Error(w, "internal error", http.StatusInternalServerError)
	case callerV4:
		a.V4.Unavailable(w, r, "")
	case callerDirectLink:
		a.ogone.Unavailable(w, r)
	case callerFlexCheckout:
		a.pages.InternalError(w, r, true, r.URL.Query().Get("LAYOUT.LANGUAGE"))
	default:
		a.pages.InternalError(w, r, false, "")
	}
}

// accessLog logs a request's access line: at info, so that an operator
// sees the traffic at the default level, except the probes and the scraper
// (a load balancer's every few seconds), at debug. The path only, cut to
// maxLoggedPath bytes, with its credentials named, not shown (loggedPath): the query
// string may carry signed parameters; neither the body nor a header
// (Authorization) is logged. The request id comes from ctx (obs.NewLogger).
// OPENPSP_ACCESS_LOG=off turns it off.
func (a *App) accessLog(ctx context.Context, r *http.Request, rec *statusRecorder, d time.Duration) {
	if !a.Config.AccessLog {
		return
	}
	level := slog.LevelInfo
	switch r.URL.Path {
	case "/healthz", "/readyz", "/metrics":
		level = slog.LevelDebug
	}
	if !a.Log.Enabled(ctx, level) {
		return
	}
	path := loggedPath(r.URL.Path)
	// LogAttrs: no boxing of the values into []any, one line per request.
	a.Log.LogAttrs(ctx, level, "http request", slog.String("method", r.Method), slog.String("path", path),
		slog.Int("status", rec.code), slog.Duration("duration", d.Round(time.Microsecond)), slog.Int64("bytes", rec.bytes),
		slog.String("client_ip", clientip.Of(r)))
}

// loggedPath is a request's path as a log line shows it: the segments that
// are credentials named instead of shown (a payment page's sealed form
// token, /pay/{formToken}/… and /embedded/{formToken}/…, and a FlexCheckout
// session, /Tokenization/HostedPage/{session}/…: whoever holds one can open
// the page and pay), cut to maxLoggedPath bytes. It goes by the path's
// shape, not by the route that matched: a request no route takes (a GET of
// the POST-only 3-D Secure step when the buyer reloads it, a trailing
// slash, another case) has no path values, yet its path holds the token.
func loggedPath(path string) string {
	// Wherever the segments stand: the mux redirects //pay/… and
	// /x/../pay/… to the clean path, and logs the request it redirected.
	segs := strings.Split(path, "/")
	hidden := false
	for i := 0; i+1 < len(segs); i++ {
		name := ""
		switch {
		case strings.EqualFold(segs[i], "pay") || strings.EqualFold(segs[i], "embedded"):
			name = "{formToken}"
		case i > 0 && strings.EqualFold(segs[i], "HostedPage") && strings.EqualFold(segs[i-1], "Tokenization"):
			name = "{session}"
		}
		if name != "" && segs[i+1] != "" {
			segs[i+1], hidden = name, true
			i++
		}
	}
	if hidden {
		path = strings.Join(segs, "/")
	}
	if len(path) > maxLoggedPath {
		path = path[:maxLoggedPath] + "…"
	}
	return path
}

// maxLoggedPath bounds the path an access line shows: a client chooses it,
// up to the header limit (1 MB).
const maxLoggedPath = 512
