package app

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestDemoMailboxLinksBackToTheShop: every page of the demo shop links to
// the mailbox; the mailbox linked nowhere, so a visitor who opened it from
// the shop had only the browser's back button to return.
func TestDemoMailboxLinksBackToTheShop(t *testing.T) {
	srv := httptest.NewServer(testApp(t, map[string]string{"OPENPSP_DEMO": "true"}).Handler())
	t.Cleanup(srv.Close)
	resp, err := http.Get(srv.URL + "/demo/mail")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `<a href="/demo">`) {
		t.Fatalf("the mailbox (%d) has no link to the demo shop:\n%s", resp.StatusCode, b)
	}
}
