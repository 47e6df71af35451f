package wallet_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/card"
	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
	"github.com/openpsp/openpsp/internal/vault"
)

// deleteCard posts the deletion of the saved card id on the form ft as the
// form script does, the page in lang: the HTTP status, the answer, its JSON.
func (e *env) deleteCard(ft, lang, id string) (int, hostedAnswer, string) {
	e.t.Helper()
	return e.postAt(ft, "/wallet/delete", "kr-language="+lang, url.Values{"card": {id}})
}

// What the buyer reads when the card is no longer in their wallet, and
// when its deletion failed.
var (
	cardGoneText = map[string]string{
		"en": "This card is no longer among your saved cards: it may already have been deleted.",
		"fr": "Cette carte ne fait plus partie de vos cartes enregistrées\u00a0: elle a peut-être déjà été supprimée.",
		"es": "Esta tarjeta ya no figura entre sus tarjetas guardadas: puede que ya se haya eliminado.",
		"it": "Questa carta non è più tra le Sue carte salvate: potrebbe essere già stata eliminata.",
		"de": "Diese Karte gehört nicht mehr zu Ihren gespeicherten Karten; sie wurde möglicherweise bereits gelöscht.",
	}
	deleteFailedText = map[string]string{
		"en": "The card could not be deleted. Please try again.",
		"fr": "La carte n’a pas pu être supprimée. Veuillez réessayer.",
		"es": "No se pudo eliminar la tarjeta. Inténtelo de nuevo.",
		"it": "Non è stato possibile eliminare la carta. Riprovi.",
		"de": "Die Karte konnte nicht gelöscht werden. Bitte versuchen Sie es erneut.",
	}
	langs = []string{"en", "fr", "es", "it", "de"}
)

// TestWalletDeleteAnswers: the script's deletion of a saved card
// (/wallet/delete, JSON) answered "The card could not be deleted. Please
// try again." for a card no longer in the wallet, which trying again
// cannot delete, and 200 for a deletion refused because the page was out
// of date. Each case has its own answer, in the buyer's language and the
// JSON the script reads, on the real stack:
//   - a card that is not this wallet's (unknown id, another buyer's, the
//     other mode's, another shop's) or no longer is (cancelled by the
//     merchant, expired, cancelled while this deletion was checked,
//     purged): 404, the card is no longer among the saved cards;
//   - a subscription on the card, or the shop's manual deletion, since the
//     page was shown (the script asks only when the page said neither):
//     409 with that result and its message, the card kept;
//   - the database refusing the cancellation (not an outage): 500, the
//     card could not be deleted, never the database's error, the card kept.
func TestWalletDeleteAnswers(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		clk := clock.NewFake(time.Date(2030, 3, 31, 23, 40, 0, 0, time.UTC))
		e := newEnv(t, db, clk)
		exp := card.Expiry{Month: 12, Year: 2032}
		n := 0
		form := func() string {
			n++
			return e.formToken(walletPayment(900, "del-"+string(rune('a'+n)), "cust-1"))
		}
		status := func(tok vault.Token) vault.Status {
			got, err := e.vault.Get(e.ctx(), tok.ShopID, tok.Mode, tok.Value)
			if err != nil {
				t.Fatal(err)
			}
			return got.StatusAt(clk.Now())
		}
		check := func(what, lang, ft, id string, wantStatus int, wantResult, wantMsg string) {
			t.Helper()
			code, a, body := e.deleteCard(ft, lang, id)
			if code != wantStatus || a.Result != wantResult || a.Message != wantMsg {
				t.Errorf("%s (%s): HTTP %d %s, want %d, result %q, message %q", what, lang, code, body, wantStatus, wantResult, wantMsg)
			}
		}
		gone := func(what, lang, ft, id string) {
			t.Helper()
			check(what, lang, ft, id, http.StatusNotFound, "gone", cardGoneText[lang])
		}

		mine := e.tokenize(cardOK, "cust-1", shop.ModeTest, exp, "")
		other := e.tokenize(cardMC, "cust-2", shop.ModeTest, exp, "")
		prod := e.tokenize(cardMC, "cust-1", shop.ModeProduction, exp, "")
		pan, _ := card.ParsePAN(cardMC)
		elsewhere, err := e.vault.TokenizeNow(e.ctx(), vault.TokenizeRequest{ShopID: otherShop, Mode: shop.ModeTest, PAN: pan, Expiry: exp,
			CustomerReference: "cust-1", Customer: json.RawMessage(`{}`), Origin: "V4"})
		if err != nil {
			t.Fatal(err)
		}
		ft := form()
		for i, c := range []struct{ what, id string }{
			{"unknown card", "nope"}, {"another buyer's card", other.ID}, {"the PRODUCTION wallet's card", prod.ID},
			{"another shop's card", elsewhere.ID},
		} {
			gone(c.what, langs[i%len(langs)], ft, c.id)
		}

		// Cancelled by the merchant since the page was shown.
		ft = form()
		cancelled := e.tokenize(cardAmex, "cust-1", shop.ModeTest, exp, "")
		e.ok("Token/Cancel", map[string]any{"paymentMethodToken": cancelled.Value})
		gone("card cancelled since the page", "fr", ft, cancelled.ID)

		// Cancelled while this deletion was being checked (the merchant,
		// or the buyer's other tab): after the card was found, before it
		// was cancelled here.
		ft = form()
		racing := e.tokenize(cardMC, "cust-1", shop.ModeTest, exp, "")
		var once sync.Once
		e.subs.onCheck(func(token string) {
			if token == racing.Value {
				once.Do(func() {
					if _, err := e.wallet.Cancel(e.ctx(), shopID, shop.ModeTest, racing.Value); err != nil {
						t.Error(err)
					}
				})
			}
		})
		gone("card cancelled during the deletion", "es", ft, racing.ID)
		e.subs.onCheck(nil)

		// A subscription, or the shop's manual deletion, since the page.
		ft = form()
		e.subs.set(mine.Value)
		check("subscription since the page", "it", ft, mine.ID, http.StatusConflict, "subscription",
			"Questa carta paga un abbonamento e non può essere eliminata qui. Contatti il negozio.")
		e.subs.unset(mine.Value)
		ft = form()
		e.setShop(func(s *shop.Settings) { s.TokenDeletion = shop.DeletionManual })
		check("manual deletion since the page", "de", ft, mine.ID, http.StatusConflict, "manual",
			"Um diese Karte zu löschen, wenden Sie sich bitte an den Shop.")
		e.setShop(func(s *shop.Settings) { s.TokenDeletion = shop.DeletionAutomatic })
		if got := status(mine); got != vault.StatusActive {
			t.Errorf("the card after the refused deletions: %s", got)
		}

		// The database refuses the cancellation, for a reason of its own.
		refuse := `CREATE TRIGGER tokens_refused BEFORE UPDATE ON tokens BEGIN SELECT RAISE(ABORT, 'token update refused by a check'); END`
		if db.Dialect() == store.Postgres {
			refuse = `CREATE FUNCTION tokens_refused() RETURNS trigger LANGUAGE plpgsql AS $$
				BEGIN RAISE EXCEPTION 'token update refused by a check'; END $$;
				CREATE TRIGGER tokens_refused BEFORE UPDATE ON tokens FOR EACH ROW EXECUTE FUNCTION tokens_refused()`
		}
		if _, err := db.Writer().Exec(refuse); err != nil {
			t.Fatal(err)
		}
		ft = form()
		code, a, body := e.deleteCard(ft, "fr", mine.ID)
		if code != http.StatusInternalServerError || a.Result != "error" || a.Message != deleteFailedText["fr"] || strings.Contains(body, "refused") {
			t.Errorf("cancellation refused by the database: HTTP %d %s, want 500, result error, message %q", code, body, deleteFailedText["fr"])
		}
		if _, err := db.Writer().Exec(`DROP TRIGGER tokens_refused` + map[bool]string{true: ` ON tokens`}[db.Dialect() == store.Postgres]); err != nil {
			t.Fatal(err)
		}
		if got := status(mine); got != vault.StatusActive {
			t.Errorf("the card after the failed deletion: %s", got)
		}

		// Expired since the page was shown: its month ended (the form,
		// valid 15 minutes, still is).
		clk.Set(time.Date(2030, 3, 31, 23, 55, 0, 0, time.UTC))
		short := e.tokenize(cardMC, "cust-1", shop.ModeTest, card.Expiry{Month: 3, Year: 2030}, "")
		ft = form()
		if !strings.Contains(e.page(ft), `data-card="`+short.ID+`"`) {
			t.Fatal("the card about to expire is not on the page")
		}
		clk.Advance(10 * time.Minute)
		gone("card expired since the page", "it", ft, short.ID)

		// Purged since the page was shown (retention), last: it purges
		// every token.
		ft = form()
		if n, err := e.vault.Purge(e.ctx(), clk.Now().Add(time.Hour), vault.PurgeOptions{}); err != nil || n == 0 {
			t.Fatalf("Purge: %d, %v", n, err)
		}
		gone("card purged since the page", "de", ft, mine.ID)
	})
}

// The deletion read the token again once its cancellation had committed,
// and a failure of that read (here the token's sealed holder name
// unreadable right after the cancellation) answered 500 "The card could
// not be deleted" for a card that was deleted: a buyer trying again got
// "no longer among your saved cards". The answer follows the commit:
// deleted, and the token's notifications queued with it.
func TestWalletDeleteAnswersWhatCommitted(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, clock.NewFake(time.Date(2030, 3, 10, 9, 0, 0, 0, time.UTC)))
		tok := e.tokenize(cardOK, "cust-1", shop.ModeTest, card.Expiry{Month: 12, Year: 2032}, "")
		ft := e.formToken(walletPayment(900, "del-read", "cust-1"))
		unreadable := `CREATE TRIGGER tokens_unreadable AFTER UPDATE OF status ON tokens WHEN NEW.status = 'CANCELLED'
			BEGIN UPDATE tokens SET holder_name_sealed = X'00' WHERE id = NEW.id; END`
		if db.Dialect() == store.Postgres {
			unreadable = `CREATE FUNCTION tokens_unreadable() RETURNS trigger LANGUAGE plpgsql AS $$
				BEGIN UPDATE tokens SET holder_name_sealed = '\x00'::bytea WHERE id = NEW.id; RETURN NULL; END $$;
				CREATE TRIGGER tokens_unreadable AFTER UPDATE OF status ON tokens FOR EACH ROW
				WHEN (NEW.status = 'CANCELLED') EXECUTE FUNCTION tokens_unreadable()`
		}
		if _, err := db.Writer().Exec(unreadable); err != nil {
			t.Fatal(err)
		}
		code, a, body := e.deleteCard(ft, "en", tok.ID)
		if code != http.StatusOK || a.Result != "deleted" {
			t.Errorf("deletion committed, the token unreadable after it: HTTP %d %s, want 200, result deleted", code, body)
		}
		if n := e.count(`SELECT COUNT(*) FROM tokens WHERE id = $1 AND status = 'CANCELLED'`, tok.ID); n != 1 {
			t.Errorf("the token is not cancelled")
		}
		if got := e.outbox(tok.Value); len(got) == 0 {
			t.Errorf("no notification of the deletion")
		}
		if _, err := e.vault.Get(e.ctx(), shopID, shop.ModeTest, tok.Value); err == nil {
			t.Errorf("the token reads: the test's failure was not injected")
		}
	})
}
