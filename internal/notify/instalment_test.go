package notify_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"
	"testing"

	"github.com/openpsp/openpsp/internal/notify"
	"github.com/openpsp/openpsp/internal/outbox"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// An instalment whose debit the merchant let expire unvalidated, or
// cancelled, failed by the merchant's own decision: its email says so in
// every language, and neither that the instalment "could not be charged"
// nor to check the card, which has nothing to do with it. A charge that
// failed keeps its wording.
func TestInstalmentEndedByTheMerchantWording(t *testing.T) {
	// What each reason must say, in each language (lower case).
	said := map[string]map[string]string{
		notify.InstalmentNotValidated: {"en": "validat", "fr": "valid", "es": "valid", "it": "convalid", "de": "bestätig"},
		notify.InstalmentCancelled:    {"en": "cancel", "fr": "annul", "es": "cancel", "it": "annull", "de": "storn"},
	}
	cardWord := map[string]string{"en": "card", "fr": "carte", "es": "tarjeta", "it": "carta", "de": "karte"}
	r := notify.NewRenderer(nil, nil)
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		email := func(lang, reason string) notify.Rendered {
			t.Helper()
			s := testShop()
			s.Language = lang
			f := notify.InstalmentFacts{SubscriptionID: "sub-1", Token: "tok-1", OrderID: "order-9", Mode: "TEST", Sequence: 2,
				Amount: 990, Currency: "EUR", DueAt: t0, Attempts: 1, ErrorDetail: "EXPIRED", Reason: reason}
			var e notify.Enqueued
			write(t, db, func(tx *sql.Tx) error {
				var err error
				e, err = notify.InstalmentFailed(tx, t0, s, f)
				return err
			})
			for _, m := range e.Messages {
				if m.Channel != outbox.ChannelEmail {
					continue
				}
				var c notify.Content
				if err := json.Unmarshal([]byte(m.Payload), &c); err != nil {
					t.Fatal(err)
				}
				out, err := r.Email(context.Background(), c)
				if err != nil {
					t.Fatal(err)
				}
				return out
			}
			t.Fatalf("%s %q: no email in %v", lang, reason, targets(e))
			return notify.Rendered{}
		}
		for _, lang := range notify.Languages {
			failed := email(lang, "")
			if !strings.Contains(strings.ToLower(failed.Text), cardWord[lang]) {
				t.Errorf("%s: a failed charge no longer says to check the card:\n%s", lang, failed.Text)
			}
			for reason, words := range said {
				out := email(lang, reason)
				for _, part := range []string{out.Text, out.HTML} {
					low := strings.ToLower(part)
					if !strings.Contains(low, words[lang]) || strings.Contains(low, cardWord[lang]) {
						t.Errorf("%s %s: want %q and no %q in:\n%s", lang, reason, words[lang], cardWord[lang], part)
					}
				}
				// Neither the intro nor the footer of a failed charge
				// (which says no payment, so no IPN, was made).
				if got, was := intro(out.Text), intro(failed.Text); got == was {
					t.Errorf("%s %s: the intro of a failed charge: %s", lang, reason, got)
				}
				if got, was := lastLine(out.Text), lastLine(failed.Text); got == was {
					t.Errorf("%s %s: the footer of a failed charge: %s", lang, reason, got)
				}
			}
		}
	})
}

// intro is the paragraph after the heading of an instalment notice's text.
func intro(text string) string {
	parts := strings.Split(strings.TrimSpace(text), "\n\n")
	if len(parts) < 3 {
		return ""
	}
	return parts[2] // TEST line, heading, intro
}

func lastLine(text string) string {
	lines := strings.Split(strings.TrimSpace(text), "\n")
	return lines[len(lines)-1]
}

// An unknown reason is a mistake of the caller, not a failed charge.
func TestInstalmentFailedUnknownReason(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		f := notify.InstalmentFacts{SubscriptionID: "sub-1", Token: "tok-1", Mode: "TEST", Sequence: 2, Amount: 990,
			Currency: "EUR", DueAt: t0, Reason: "EXPIRED"}
		write(t, db, func(tx *sql.Tx) error {
			if _, err := notify.InstalmentFailed(tx, t0, testShop(), f); err == nil {
				t.Error("unknown reason accepted")
			}
			return nil
		})
	})
}

// The webhook of an instalment ended by the merchant's decision says which
// in a field a program can read (the error detail is text for people);
// the webhook of a failed charge has none.
func TestInstalmentFailedWebhookReason(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		for _, reason := range []string{"", notify.InstalmentNotValidated, notify.InstalmentCancelled} {
			f := notify.InstalmentFacts{SubscriptionID: "sub-1", Token: "tok-1", Mode: "TEST", Sequence: 2,
				Amount: 990, Currency: "EUR", DueAt: t0, Attempts: 1, ErrorDetail: "detail", Reason: reason}
			var e notify.Enqueued
			write(t, db, func(tx *sql.Tx) error {
				var err error
				e, err = notify.InstalmentFailed(tx, t0, testShop(), f)
				return err
			})
			found := false
			for _, m := range e.Messages {
				if m.Channel != outbox.ChannelWebhook {
					continue
				}
				found = true
				var body struct {
					Data struct {
						Instalment map[string]any `json:"instalment"`
					} `json:"data"`
				}
				if err := json.Unmarshal([]byte(m.Payload), &body); err != nil {
					t.Fatal(err)
				}
				got, present := body.Data.Instalment["reason"]
				if reason == "" && present || reason != "" && got != reason {
					t.Errorf("reason %q: webhook instalment %v", reason, body.Data.Instalment)
				}
			}
			if !found {
				t.Fatalf("reason %q: no webhook in %v", reason, targets(e))
			}
		}
	})
}

// The reason row of an instalment ended by the merchant's decision is
// written in the shop's language: the error detail the instalment keeps
// (English, for the webhook and the logs) is not shown to a merchant who
// reads French, Spanish, Italian or German. Nor is that of a failed
// charge, which shows its error code with its cause in the shop's language.
func TestInstalmentEndedByTheMerchantReasonLocalized(t *testing.T) {
	// The error details subscription records for these instalments.
	details := map[string]string{
		notify.InstalmentNotValidated: "EXPIRED: the merchant did not validate the debit in time",
		notify.InstalmentCancelled:    "CANCELLED: the merchant cancelled the debit",
	}
	r := notify.NewRenderer(nil, nil)
	render := func(lang, reason, code, detail string) notify.Rendered {
		t.Helper()
		c := notify.Content{Template: notify.TplInstalmentMerchant, Lang: lang, Mode: "TEST", Recipient: "merchant",
			Shop: notify.ShopView{ID: "12345678", Name: "Boulangerie Zoé", Email: "contact@boulangerie.example"},
			Instalment: &notify.InstalmentView{SubscriptionID: "sub-1", Token: "tok-1", OrderID: "order-9", Sequence: 2,
				Amount: 990, Currency: "EUR", DueAt: t0, ErrorCode: code, ErrorDetail: detail, Reason: reason, At: t0}}
		out, err := r.Email(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	for _, lang := range []string{"fr", "es", "it", "de"} {
		for reason, detail := range details {
			out := render(lang, reason, "", detail)
			for _, part := range []string{out.Text, out.HTML} {
				for _, english := range []string{detail, "EXPIRED", "CANCELLED", "the merchant", "the debit"} {
					if strings.Contains(part, english) {
						t.Errorf("%s %s: English reason %q in:\n%s", lang, reason, english, part)
					}
				}
			}
		}
	}
	// A failed charge says its cause in the shop's language, with its
	// error code (what support asks for); the English detail stays in the
	// webhook and the logs. Each cause its own sentence.
	for _, lang := range notify.Languages {
		seen := map[string]string{}
		for _, e := range instalmentErrors {
			out := render(lang, "", e.code, e.detail)
			reason := ""
			for _, line := range strings.Split(out.Text, "\n") {
				if strings.Contains(line, e.code) {
					reason = line
				}
			}
			for _, part := range []string{out.Text, out.HTML} {
				if strings.Contains(part, e.detail) || !strings.Contains(part, e.code) {
					t.Errorf("%s %s %q: want the code and not the English detail in:\n%s", lang, e.code, e.detail, part)
				}
			}
			if prev, dup := seen[reason]; dup && reason != "" {
				t.Errorf("%s: %q and %q read the same: %s", lang, prev, e.detail, reason)
			}
			seen[reason] = e.detail
		}
	}
}
