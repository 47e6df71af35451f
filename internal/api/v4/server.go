// Package v4 serves the PayZen/Lyra-compatible REST API V4:
// POST /api-payment/V4/{Namespace}/{Name} with HTTP Basic shopId:password,
// answering the V4 envelope. Errors are HTTP 200 with status ERROR, as the
// PayZen SDKs expect.
package v4

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/openpsp/openpsp/internal/clientip"
	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/errs"
	"github.com/openpsp/openpsp/internal/obs"
	"github.com/openpsp/openpsp/internal/payment"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/version"
)

// MaxBody bounds a request body; larger ones answer INT_902.
const MaxBody = 1 << 20

// Authenticator checks HTTP Basic credentials against the shops' key sets.
// It returns shop.ErrNotFound (or any error) for a wrong login or password.
type Authenticator interface {
	Authenticate(ctx context.Context, shopID, password string) (shop.Shop, shop.Credentials, error)
}

// Call is one authenticated web-service call.
type Call struct {
	Ctx   context.Context
	Shop  shop.Shop
	Creds shop.Credentials // the key set used: Creds.Mode is the mode of the call
	Body  []byte
	HTTP  *http.Request
	Name  string // e.g. "Charge/CreatePayment"
}

// Decode parses the JSON body into v. Unknown fields are ignored, as PayZen
// does, so that integrations sending extra fields keep working.
func (c *Call) Decode(v any) error {
	return decodeJSON(c.Body, v)
}

func decodeJSON(body []byte, v any) error {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		trimmed = []byte("{}")
	}
	if trimmed[0] != '{' {
		return &errs.Error{Code: errs.InputInvalid, Message: "web-service input data validation error",
			Detail: "can't decode JSON data: the body must be a JSON object"}
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.UseNumber()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		return &errs.Error{Code: errs.InputInvalid, Message: "web-service input data validation error",
			Detail: "can't decode JSON data: trailing data after the JSON object"}
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		// Well-formed JSON with a scalar of another type than documented
		// (an integer orderId): read again as PayZen reads it.
		err = decodeCoerced(trimmed, v)
	}
	if err != nil {
		return &errs.Error{Code: errs.InputInvalid, Message: "web-service input data validation error",
			Detail: "can't decode JSON data: " + jsonErrorDetail(err), Err: err}
	}
	return nil
}

// decodeCoerced decodes body into v (a pointer) after coerceScalars; the
// body is known to be one well-formed JSON object.
func decodeCoerced(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var generic any
	if err := dec.Decode(&generic); err != nil {
		return err
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return &json.InvalidUnmarshalError{Type: reflect.TypeOf(v)}
	}
	coerced, err := json.Marshal(coerceScalars(generic, rv.Type().Elem()))
	if err != nil {
		return err
	}
	rv.Elem().SetZero()
	dec = json.NewDecoder(bytes.NewReader(coerced))
	dec.UseNumber()
	return dec.Decode(v)
}

// jsonErrorDetail names the field of a type mismatch, so the caller knows
// what to fix.
func jsonErrorDetail(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			field = "(root)"
		}
		return "invalid type for field " + field + ": expected " + te.Type.String()
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return "syntax error at offset " + strconv.FormatInt(se.Offset, 10)
	}
	return "malformed JSON"
}

// Handler serves one web service. answer is marshalled as the envelope's
// answer (it should carry its own "_type"); an *errs.Error becomes a V4 error
// answer, any other error an INT_999 whose cause is only logged.
type Handler func(c *Call) (answer any, err error)

// Observer receives one callback per web-service call (metrics).
type Observer func(name, status string, d time.Duration)

// Server routes web-service calls.
type Server struct {
	auth     Authenticator
	clock    clock.Clock
	log      *slog.Logger
	observe  Observer
	handlers map[string]Handler
	wrap     func(name string, h Handler) Handler
	logins   *obs.FailedLogins
}

// Options configures a Server.
type Options struct {
	Auth    Authenticator
	Clock   clock.Clock
	Logger  *slog.Logger
	Observe Observer
	// Wrap, if set, wraps every registered handler (idempotency, for one).
	Wrap func(name string, h Handler) Handler
	// FailedLogins logs rejected credentials (default: one of its own on
	// Logger); an app shares one between its API surfaces.
	FailedLogins *obs.FailedLogins
}

// New returns a Server with no web services; Register adds them.
func New(o Options) *Server {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.FailedLogins == nil {
		o.FailedLogins = obs.NewFailedLogins(o.Logger, o.Clock)
	}
	return &Server{auth: o.Auth, clock: o.Clock, log: o.Logger, observe: o.Observe, handlers: map[string]Handler{}, wrap: o.Wrap,
		logins: o.FailedLogins}
}

// Handle registers a web service by its name ("Charge/CreatePayment").
func (s *Server) Handle(name string, h Handler) {
	if s.wrap != nil {
		h = s.wrap(name, h)
	}
	s.handlers[name] = h
}

// ServeHTTP serves POST /api-payment/V4/{name...}.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	name := callName(r.PathValue("name"))
	status := s.serve(w, r, name)
	s.observed(name, status, start)
}

// callName is the web service named by the path after /api-payment/V4/.
func callName(path string) string {
	name := strings.Trim(path, "/")
	for strings.Contains(name, "//") {
		name = strings.ReplaceAll(name, "//", "/")
	}
	return name
}

// Unavailable answers a call this server must not serve now (its database's
// schema is newer than this binary's) as a call fails when the database is
// unavailable: INT_999, HTTP 200, detail telling why (none when empty:
// the app's answer to a recovered panic, as safeCall's); the client
// retries. Neither the credentials nor the body is read, and nothing is
// logged per call: whoever refuses logged why once.
func (s *Server) Unavailable(w http.ResponseWriter, r *http.Request, detail string) {
	start := time.Now()
	// Called in front of the mux: the path has no "name" value yet.
	name := callName(strings.TrimPrefix(r.URL.Path, "/api-payment/V4/"))
	ans := ErrorAnswer{ErrorCode: errs.Internal, ErrorMessage: "internal error, please retry later", Type: "V4/WebService/WebServiceError"}
	if detail != "" {
		detail = fitDetail(detail)
		ans.DetailedErrorMessage = &detail
	}
	s.observed(name, s.writeEnvelope(w, name, "ERROR", ans), start)
}

// observed reports a call to the metrics, under "unknown" for a name no
// web service has (a client chooses it).
func (s *Server) observed(name, status string, start time.Time) {
	if s.observe != nil {
		if _, known := s.handlers[name]; !known {
			name = "unknown"
		}
		s.observe(name, status, time.Since(start))
	}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, name string) string {
	if r.Method == http.MethodOptions {
		// No CORS headers, here or on the call: a browser's preflight
		// fails, so no page of another origin calls the API. Every web
		// service takes the shop's private key in HTTP Basic auth, a
		// secret that belongs on the merchant's server: the REST API is
		// called server to server. The browser side of a payment (the
		// embedded form's client with the public key, the hosted pages)
		// talks to OpenPSP's own pages, never to /api-payment/V4 (see
		// internal/hosted/static). Answering any Origin with itself, as
		// before, only served pages that carry the private key, and let
		// any site read the answers of a browser holding it. Server-side
		// clients ignore CORS (README, "REST API V4 from a browser"). A
		// web service meant for browsers (public key, no Basic auth) would
		// need CORS of its own, for that service only.
		w.Header().Set("Allow", "POST, OPTIONS")
		w.WriteHeader(http.StatusNoContent)
		return "OPTIONS"
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		return s.writeError(w, r, name, "", &errs.Error{Code: errs.InputInvalid, Message: "web-service input data validation error",
			Detail: "web services are called with POST"})
	}
	h, ok := s.handlers[name]
	if !ok {
		return s.writeError(w, r, name, "", &errs.Error{Code: "INT_901", Message: "unknown web service",
			Detail: "no web service named " + name})
	}
	shopID, password, ok := r.BasicAuth()
	if !ok {
		s.logins.Failed(r.Context(), "v4", "", clientip.Of(r), "no Basic credentials")
		return s.writeError(w, r, name, "", errs.New(errs.BadCredentials, "invalid login or private key"))
	}
	remote := clientip.Of(r)
	if wait, locked := s.logins.Locked(r.Context(), "v4", shopID, remote); locked {
		// The password is not checked: a guessing run learns nothing
		// while the lock lasts.
		s.logins.Refused(r.Context(), "v4", shopID, remote, wait)
		secs := retryAfterSeconds(wait)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		return s.writeError(w, r, name, "", &errs.Error{Code: errs.BadCredentials, Message: "invalid login or private key",
			Detail: "too many failed logins for this shop from this address: retry in " + strconv.Itoa(secs) + " seconds"})
	}
	sh, creds, err := s.auth.Authenticate(r.Context(), shopID, password)
	if err != nil {
		if !errors.Is(err, shop.ErrNotFound) {
			s.log.ErrorContext(r.Context(), "authentication failed", "err", err)
			return s.writeError(w, r, name, "", &errs.Error{Code: errs.Internal, Message: "internal error, please retry later", Err: err})
		}
		s.logins.WrongPassword(r.Context(), "v4", shopID, shopID, remote, "unknown shop or wrong password")
		return s.writeError(w, r, name, "", errs.New(errs.BadCredentials, "invalid login or private key"))
	}
	s.logins.Succeeded(r.Context(), "v4", shopID, remote)
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	if err != nil {
		return s.writeError(w, r, name, sh.ID, &errs.Error{Code: errs.InputInvalid, Message: "web-service input data validation error",
			Detail: "could not read the request body", Err: err})
	}
	if len(body) > MaxBody {
		return s.writeError(w, r, name, sh.ID, &errs.Error{Code: errs.InputInvalid, Message: "web-service input data validation error",
			Detail: "request body too large"})
	}
	call := &Call{Ctx: r.Context(), Shop: sh, Creds: creds, Body: body, HTTP: r, Name: name}
	answer, err := safeCall(h, call)
	if err != nil {
		return s.writeError(w, r, name, sh.ID, err)
	}
	return s.writeEnvelope(w, name, "SUCCESS", answer)
}

// retryAfterSeconds rounds a wait up to whole seconds, at least one.
func retryAfterSeconds(d time.Duration) int {
	return max(1, int((d+time.Second-1)/time.Second))
}

// safeCall turns a handler panic into an INT_999 answer instead of a dropped
// connection: a merchant always gets an answer in its own format.
func safeCall(h Handler, c *Call) (answer any, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &errs.Error{Code: errs.Internal, Message: "internal error, please retry later", Err: errors.New("panic: " + toString(p))}
		}
	}()
	return h(c)
}

func toString(p any) string {
	if e, ok := p.(error); ok {
		return e.Error()
	}
	if s, ok := p.(string); ok {
		return s
	}
	return "non-error panic"
}

// envelope is the V4 response (compat.md §1.3).
type envelope struct {
	WebService          string `json:"webService"`
	Version             string `json:"version"`
	ApplicationVersion  string `json:"applicationVersion"`
	Status              string `json:"status"`
	Answer              any    `json:"answer"`
	Ticket              any    `json:"ticket"`
	ServerDate          string `json:"serverDate"`
	ApplicationProvider string `json:"applicationProvider"`
	Metadata            any    `json:"metadata"`
	Type                string `json:"_type"`
}

// ErrorAnswer is the answer of a failed call.
type ErrorAnswer struct {
	ErrorCode            string  `json:"errorCode"`
	ErrorMessage         string  `json:"errorMessage"`
	DetailedErrorCode    *string `json:"detailedErrorCode"`
	DetailedErrorMessage *string `json:"detailedErrorMessage"`
	Ticket               *string `json:"ticket"`
	ShopID               *string `json:"shopId"`
	Type                 string  `json:"_type"`
}

// writeEnvelope writes answer in the V4 envelope and returns the status it
// sent: ERROR when the answer could not be marshalled, whatever status was
// asked for, so that the metrics count what the client received.
func (s *Server) writeEnvelope(w http.ResponseWriter, name, status string, answer any) string {
	env := envelope{
		WebService: name, Version: "V4", ApplicationVersion: version.Version, Status: status,
		Answer: answer, ServerDate: payment.Date(s.clock.Now()), ApplicationProvider: "OPENPSP",
		Type: "V4/WebService/Response",
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	body := &envelopeBody{w: w}
	if err := json.NewEncoder(body).Encode(env); err != nil && !body.wrote {
		// Nothing written: the answer did not marshal. The same envelope
		// with an INT_999 answer (only strings: it marshals), so that the
		// client still finds every field it reads, serverDate first of all.
		s.log.Error("marshal V4 answer", "webService", name, "err", err)
		env.Status = "ERROR"
		env.Answer = ErrorAnswer{ErrorCode: errs.Internal, ErrorMessage: "internal error, please retry later",
			Type: "V4/WebService/WebServiceError"}
		_ = json.NewEncoder(body).Encode(env)
	}
	return env.Status
}

// envelopeBody is the response body as a json.Encoder writes it: straight
// from the encoder's buffer, where json.Marshal copies the JSON into a new
// slice first, and without the newline Encode ends it with, which
// json.Marshal (what V4 answers were written with) does not write. Compact
// JSON has no other newline (strings escape theirs), so dropping a final
// one from each write is right however the encoder splits its output.
// wrote tells a failed write from a value that did not marshal, which
// writes nothing.
type envelopeBody struct {
	w     io.Writer
	wrote bool
}

func (b *envelopeBody) Write(p []byte) (int, error) {
	b.wrote = true
	if _, err := b.w.Write(bytes.TrimSuffix(p, []byte{'\n'})); err != nil {
		return 0, err
	}
	return len(p), nil
}

// maxDetail is the longest detailedErrorMessage Lyra documents (127
// characters, V4 WebServiceError).
const maxDetail = 127

// fitDetail clips a detailedErrorMessage to maxDetail characters (with
// "…" as its last): the messages of the code are written to fit, but some
// quote what the caller sent (a field's value, a web service's name).
func fitDetail(d string) string {
	if utf8.RuneCountInString(d) <= maxDetail {
		return d
	}
	return string([]rune(d)[:maxDetail-1]) + "…"
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, name, shopID string, err error) string {
	e, ok := errs.As(err)
	if !ok {
		e = &errs.Error{Code: errs.Internal, Message: "internal error, please retry later", Err: err}
	}
	switch {
	case e.Code == errs.Internal && errors.Is(err, errs.ErrRetryLater):
		// Expected while an operation is under way or being checked
		// with the acquirer: the caller retries; not a fault of ours.
		s.log.WarnContext(r.Context(), "web service: retry later", "webService", name, "err", err)
	case e.Code == errs.Internal:
		s.log.ErrorContext(r.Context(), "web service failed", "webService", name, "err", err)
	}
	ans := ErrorAnswer{ErrorCode: e.Code, ErrorMessage: e.Message, Type: "V4/WebService/WebServiceError"}
	if e.DetailedCode != "" {
		ans.DetailedErrorCode = &e.DetailedCode
	}
	if e.Detail != "" {
		detail := fitDetail(e.Detail)
		ans.DetailedErrorMessage = &detail
	}
	if shopID != "" {
		ans.ShopID = &shopID
	}
	return s.writeEnvelope(w, name, "ERROR", ans)
}

// Names lists the registered web services, sorted.
func (s *Server) Names() []string {
	out := make([]string, 0, len(s.handlers))
	for n := range s.handlers {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
