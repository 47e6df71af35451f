package ogone_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/openpsp/openpsp/internal/ogone"
)

// A database that cannot be reached showed FlexCheckout's generic error
// page (500), and a submit whose session could not be read the same page
// as for an unknown session (404). The page now hands such a failure to
// Options.Unavailable (the app's temporarily-unavailable page, 503), with
// the merchant's LAYOUT.LANGUAGE when it is known; a failure the hook does
// not take stays the generic page.
func TestFlexDatabaseUnavailableGoesToUnavailable(t *testing.T) {
	var mu sync.Mutex
	var took []string // the locale of each failure taken
	take := true
	e := newEnv(t, func(o *ogone.Options) {
		o.Unavailable = func(w http.ResponseWriter, r *http.Request, locale string, err error) bool {
			mu.Lock()
			defer mu.Unlock()
			if err == nil || !take {
				return false
			}
			took = append(took, locale)
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("temporarily unavailable"))
			return true
		}
	})
	action, _ := e.open(e.flexParams(map[string]string{"LAYOUT.LANGUAGE": "fr_FR"}))
	// The database goes away.
	_ = e.db.Reader().Close()
	_ = e.db.Writer().Close()

	resp, body := e.post(action, cardForm(visa))
	if resp.StatusCode != http.StatusServiceUnavailable || body != "temporarily unavailable" {
		t.Errorf("submit with the database unavailable: %d %s", resp.StatusCode, body)
	}
	resp, body = e.get(e.flexURL(e.flexParams(map[string]string{"LAYOUT.LANGUAGE": "it_IT"})))
	if resp.StatusCode != http.StatusServiceUnavailable || body != "temporarily unavailable" {
		t.Errorf("page opened with the database unavailable: %d %s", resp.StatusCode, body)
	}
	mu.Lock()
	if len(took) != 2 || took[1] != "it_IT" {
		t.Errorf("locales handed over: %q, want the submit's and it_IT", took)
	}
	take = false
	mu.Unlock()
	resp, body = e.get(e.flexURL(e.flexParams(map[string]string{"LAYOUT.LANGUAGE": "it_IT"})))
	if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(body, ogone.GenericError("it")) {
		t.Errorf("a failure the hook does not take: %d %s", resp.StatusCode, body)
	}
}
