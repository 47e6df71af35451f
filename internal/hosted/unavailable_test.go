package hosted

import (
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// checkUnavailable asserts the temporarily-unavailable answer: 503 with
// Retry-After, not stored, key's message in lang and not the technical
// error's.
func checkUnavailable(t *testing.T, what string, w *httptest.ResponseRecorder, lang, key string) {
	t.Helper()
	if w.Code != http.StatusServiceUnavailable {
		t.Errorf("%s: HTTP %d, want 503", what, w.Code)
	}
	if got := w.Header().Get("Retry-After"); got != strconv.Itoa(RetryAfter) {
		t.Errorf("%s: Retry-After %q, want %d", what, got, RetryAfter)
	}
	if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
		t.Errorf("%s: Cache-Control %q", what, cc)
	}
	body := html.UnescapeString(w.Body.String())
	if !strings.Contains(body, messages[lang][key]) {
		t.Errorf("%s: the answer lacks %s's %q:\n%s", what, lang, messages[lang][key], body)
	}
	if strings.Contains(body, messages[lang][ReasonTechnical]) {
		t.Errorf("%s: the answer is the technical error's:\n%s", what, body)
	}
}

// A database that cannot be reached made the buyer's pages answer the
// technical error (500, "A technical error occurred. Your card was not
// charged. Please try again."), even to a buyer who had only opened the
// page and whom trying again at once does not help. They answer that the
// service is temporarily unavailable: in the buyer's language, 503 with
// Retry-After; the card form's post adds that the card was not charged;
// the embedded form's frame can still be framed; the form script's post
// keeps its JSON error shape. No payment is attempted.
func TestUnavailableDatabaseSaysTemporarilyUnavailable(t *testing.T) {
	e := newEnv(t)
	e.pay.add(demoForm("t"))
	e.pay.formErr = fmt.Errorf("payment: read the form: %w: failed to connect", ErrUnavailable)

	w := e.do(t, "GET", "/pay/t", nil, "Accept-Language", "fr-FR,fr;q=0.9")
	checkUnavailable(t, "payment page", w, "fr", MessageUnavailable)
	checkPageHeaders(t, w, false)
	if got := pageTitle(w.Body.String()); got != messages["fr"]["h_service_unavailable"] {
		t.Errorf("payment page: title %q, want the heading %q", got, messages["fr"]["h_service_unavailable"])
	}
	if !strings.Contains(w.Body.String(), `role="alert"`) {
		t.Errorf("payment page: the message is not announced (role=alert):\n%s", w.Body)
	}

	w = e.do(t, "GET", embeddedURL("t", "https://merchant.example", demoPublicKey), nil, "Accept-Language", "de")
	checkUnavailable(t, "embedded form", w, "de", MessageUnavailable)
	checkPageHeaders(t, w, true)

	w = e.do(t, "POST", "/pay/t?kr-language=es", cardValues("4970100000000055", "12/30", "123"))
	checkUnavailable(t, "card form posted", w, "es", MessageUnavailableNotCharged)

	res, w := e.postJSON(t, embeddedURL("t", "https://merchant.example", demoPublicKey)+"&kr-language=it", cardValues("4970100000000055", "12/30", "123"))
	checkUnavailable(t, "form script's post", w, "it", MessageUnavailableNotCharged)
	if res.Step != "error" || res.Error == nil || res.Error.ErrorCode != "CLIENT_999" || res.Error.DetailedErrorCode != "UNAVAILABLE" ||
		res.Message != messages["it"][MessageUnavailableNotCharged] {
		t.Errorf("form script's post: %+v, want step error, CLIENT_999 UNAVAILABLE", res)
	}
	if n := e.pay.callCount(); n != 0 {
		t.Errorf("PayCard called %d times with the database unavailable", n)
	}

	// Any other failure stays the technical error.
	e.pay.formErr = fmt.Errorf("payment: decode the form: bad JSON")
	w = e.do(t, "GET", "/pay/t", nil, "Accept-Language", "en")
	if body := html.UnescapeString(w.Body.String()); w.Code != http.StatusInternalServerError || !strings.Contains(body, messages["en"][ReasonTechnical]) {
		t.Errorf("another failure: HTTP %d\n%s", w.Code, body)
	}
}

// Unavailable answers a request of any address (the app's newer-schema
// refusal) the same way; framed, it may be framed.
func TestUnavailableAnyPage(t *testing.T) {
	e := newEnv(t)
	w := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "/Tokenization/HostedPage?ACCOUNT.PSPID=x", nil)
	r.Header.Set("Accept-Language", "en")
	e.h.Unavailable(w, r, true, "it_IT")
	checkUnavailable(t, "framed page", w, "it", MessageUnavailable)
	checkPageHeaders(t, w, true)
}
