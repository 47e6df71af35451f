package ogone_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/ogone"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store/storetest"
	"github.com/openpsp/openpsp/internal/vault"
)

// refusedCard is a card the simulator acquirer refuses (30051001).
const refusedCard = "4970109900000008"

// TestDirectLinkAliasFollowsTheOutcome: an order that carries a card and
// an ALIAS stores the card under the alias only when its payment is
// accepted, as Ingenico updates an alias's financial details only when
// the transaction is successful (Alias Manager, "Alias usage" §3.1.1). A
// refused, invalid order neither creates the alias nor changes the card of
// an existing one, and its answer carries no ALIAS; an accepted one
// creates or updates it and says ALIAS, in its answer and in a later
// query. The card goes in the write that records the acceptance, through
// the store, so both engines run it.
func TestDirectLinkAliasFollowsTheOutcome(t *testing.T) {
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			e := newEnvOn(t, eng.Open)
			ctx := context.Background()
			card := func(pan, ed string) map[string]string {
				return map[string]string{"CARDNO": pan, "ED": ed, "CVC": "123", "ECI": "7"}
			}
			with := func(m map[string]string, kv ...string) map[string]string {
				for i := 0; i < len(kv); i += 2 {
					m[kv[i]] = kv[i+1]
				}
				return m
			}
			noAlias := func(alias string) {
				t.Helper()
				if tok, err := e.vault.Get(ctx, shop.DemoShopID, "TEST", alias); !errors.Is(err, vault.ErrTokenNotFound) {
					t.Fatalf("alias %q exists (%+v, %v); the order that named it was not accepted", alias, tok, err)
				}
			}
			cardOf := func(alias string) (string, string) {
				t.Helper()
				pan, exp, _, err := e.vault.Card(ctx, shop.DemoShopID, "TEST", alias)
				if err != nil {
					t.Fatalf("card of %q: %v", alias, err)
				}
				return pan.Reveal(), exp.MMYY()
			}

			// A refused card with a new ALIAS creates nothing.
			r := e.order(with(card(refusedCard, "1232"), "ORDERID", "AL-1", "ALIAS", "al-new"))
			if r["STATUS"] != "2" || r["NCSTATUS"] != "3" || r["ALIAS"] != "" {
				t.Fatalf("refused card with a new alias: %v, want STATUS 2 and no ALIAS", r)
			}
			noAlias("al-new")
			if q := e.direct("querydirect_utf8.asp", map[string]string{"PAYID": r["PAYID"]}); q["STATUS"] != "2" || q["ALIAS"] != "" {
				t.Fatalf("query of the refused order: %v, want STATUS 2 and no ALIAS", q)
			}
			if r := e.order(map[string]string{"ORDERID": "AL-2", "ALIAS": "al-new"}); r["NCERROR"] != "50001111" {
				t.Fatalf("the alias of a refused order pays: %v", r)
			}
			// An invalid order (no CVC: STATUS 0, PAYID 0) neither.
			r = e.order(with(card(mastercard, "0633"), "ORDERID", "AL-3", "ALIAS", "al-new", "CVC", ""))
			if r["STATUS"] != "0" || r["PAYID"] != "0" || r["ALIAS"] != "" {
				t.Fatalf("invalid order with a new alias: %v", r)
			}
			noAlias("al-new")

			// An accepted card with a new ALIAS creates it, and says so.
			r = e.order(with(card(mastercard, "0633"), "ORDERID", "AL-4", "ALIAS", "al-new", "CN", "Ann Lee"))
			if r["STATUS"] != "5" || r["ALIAS"] != "al-new" {
				t.Fatalf("accepted card with a new alias: %v", r)
			}
			if pan, ed := cardOf("al-new"); pan != mastercard || ed != "0633" {
				t.Fatalf("alias card %s %s", pan[len(pan)-4:], ed)
			}
			if tok, _ := e.vault.Get(ctx, shop.DemoShopID, "TEST", "al-new"); tok.Origin != "DIRECTLINK" || tok.OriginOrderID != "AL-4" ||
				tok.InitialTransactionUUID == "" || !tok.Permanent || tok.HolderName != "Ann Lee" {
				t.Fatalf("created alias: %+v", tok)
			}
			if q := e.direct("querydirect_utf8.asp", map[string]string{"PAYID": r["PAYID"]}); q["ALIAS"] != "al-new" {
				t.Fatalf("query of the accepted order: %v, want ALIAS al-new", q)
			}

			// A refused card with the existing ALIAS leaves its card.
			r = e.order(with(card(refusedCard, "1234"), "ORDERID", "AL-5", "ALIAS", "al-new", "CN", "Someone Else"))
			if r["STATUS"] != "2" || r["ALIAS"] != "" {
				t.Fatalf("refused card with an existing alias: %v, want STATUS 2 and no ALIAS", r)
			}
			if pan, ed := cardOf("al-new"); pan != mastercard || ed != "0633" {
				t.Fatalf("the refused order changed the alias's card to %s %s", pan[len(pan)-4:], ed)
			}
			if tok, _ := e.vault.Get(ctx, shop.DemoShopID, "TEST", "al-new"); tok.HolderName != "Ann Lee" {
				t.Fatalf("the refused order changed the holder: %q", tok.HolderName)
			}
			if r := e.order(map[string]string{"ORDERID": "AL-6", "ALIAS": "al-new"}); r["STATUS"] != "5" || r["CARDNO"] != "XXXXXXXXXXXX2045" {
				t.Fatalf("the alias after the refusal: %v", r)
			}

			// A cancelled alias stays cancelled, on its card, after a
			// refusal; an accepted card brings it back with that card.
			if _, err := e.vault.Cancel(ctx, shop.DemoShopID, "TEST", "al-new"); err != nil {
				t.Fatal(err)
			}
			if r := e.order(with(card(refusedCard, "1234"), "ORDERID", "AL-7", "ALIAS", "al-new")); r["STATUS"] != "2" || r["ALIAS"] != "" {
				t.Fatalf("refused card with a cancelled alias: %v", r)
			}
			if tok, _ := e.vault.Get(ctx, shop.DemoShopID, "TEST", "al-new"); tok.Status != vault.StatusCancelled || tok.Last4 != "2045" {
				t.Fatalf("the refused order changed the cancelled alias: %+v", tok)
			}

			// An accepted card with the existing ALIAS updates it.
			r = e.order(with(card("4970100000000055", "1232"), "ORDERID", "AL-8", "ALIAS", "al-new"))
			if r["STATUS"] != "5" || r["ALIAS"] != "al-new" {
				t.Fatalf("accepted card with an existing alias: %v", r)
			}
			if pan, ed := cardOf("al-new"); pan != "4970100000000055" || ed != "1232" {
				t.Fatalf("alias card after the accepted update: %s %s", pan[len(pan)-4:], ed)
			}
			if tok, _ := e.vault.Get(ctx, shop.DemoShopID, "TEST", "al-new"); tok.Status != vault.StatusActive || tok.HolderName != "Ann Lee" {
				t.Fatalf("updated alias: %+v", tok)
			}
			if r := e.order(map[string]string{"ORDERID": "AL-9", "ALIAS": "al-new"}); r["STATUS"] != "5" || r["CARDNO"] != "XXXXXXXXXXXX0055" {
				t.Fatalf("the alias after the update: %v", r)
			}
		})
	}
}

// TestDirectLinkAliasAfterLostAnswer: an order with a card and an ALIAS
// whose acquirer answer is lost (STATUS 52, as after a crash while the
// acquirer answers) creates its alias when recovery learns that the
// payment was accepted, in the write that settles it: the alias then pays
// a later ALIAS order, and the order's query says ALIAS. One learnt
// refused creates nothing, and the card typed for it is not left at rest.
func TestDirectLinkAliasAfterLostAnswer(t *testing.T) {
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			e := newEnvOn(t, eng.Open)
			ctx := context.Background()
			recoverAll := func() {
				t.Helper()
				e.clock.Advance(time.Hour)
				if _, err := e.payments.RecoverRunning(ctx, time.Minute, 100); err != nil {
					t.Fatal(err)
				}
			}

			// Accepted by the acquirer, answer lost.
			e.acq.loseNextAnswer()
			r := e.order(map[string]string{"CARDNO": mastercard, "ED": "0633", "CVC": "123", "ECI": "7",
				"ORDERID": "LOST-1", "ALIAS": "al-lost", "CN": "Ann Lee"})
			if r["STATUS"] != "52" || r["ALIAS"] != "" {
				t.Fatalf("lost answer: %v, want STATUS 52 and no ALIAS yet", r)
			}
			if _, err := e.vault.Get(ctx, shop.DemoShopID, "TEST", "al-lost"); !errors.Is(err, vault.ErrTokenNotFound) {
				t.Fatalf("alias before the outcome is known: %v", err)
			}
			recoverAll()
			if q := e.direct("querydirect_utf8.asp", map[string]string{"PAYID": r["PAYID"]}); q["STATUS"] != "5" || q["ALIAS"] != "al-lost" {
				t.Fatalf("query after recovery: %v, want STATUS 5 and ALIAS al-lost", q)
			}
			tok, err := e.vault.Get(ctx, shop.DemoShopID, "TEST", "al-lost")
			if err != nil || tok.Origin != "DIRECTLINK" || tok.OriginOrderID != "LOST-1" || tok.HolderName != "Ann Lee" || !tok.Permanent {
				t.Fatalf("alias after recovery: %+v, %v", tok, err)
			}
			if r := e.order(map[string]string{"ORDERID": "LOST-2", "ALIAS": "al-lost"}); r["STATUS"] != "5" || r["CARDNO"] != "XXXXXXXXXXXX2045" {
				t.Fatalf("the recovered alias does not pay: %v", r)
			}

			// Refused by the acquirer, answer lost.
			e.acq.loseNextAnswer()
			r = e.order(map[string]string{"CARDNO": refusedCard, "ED": "1232", "CVC": "123", "ECI": "7",
				"ORDERID": "LOST-3", "ALIAS": "al-lost-2"})
			if r["STATUS"] != "52" {
				t.Fatalf("lost answer: %v, want STATUS 52", r)
			}
			recoverAll()
			if q := e.direct("querydirect_utf8.asp", map[string]string{"PAYID": r["PAYID"]}); q["STATUS"] != "2" || q["ALIAS"] != "" {
				t.Fatalf("query after recovery: %v, want STATUS 2 and no ALIAS", q)
			}
			if _, err := e.vault.Get(ctx, shop.DemoShopID, "TEST", "al-lost-2"); !errors.Is(err, vault.ErrTokenNotFound) {
				t.Fatalf("alias of a refused order: %v", err)
			}
			// No card sealed for the orders is left at rest: every token
			// with card data is the merchant's al-lost.
			if n := e.sealedCards(t, "al-lost"); n != 0 {
				t.Fatalf("%d sealed cards left besides the alias", n)
			}
		})
	}
}

// TestDirectLinkAliasWriteFails: when the card cannot go under the ALIAS
// in the write that records the acceptance (here a temporary alias whose
// two hours end while the acquirer answers: the vault refuses a purged
// alias), the payment stands accepted (STATUS 5, NCERROR 0) without the
// alias, and the answer and the query say no ALIAS; the card kept for the
// order is erased all the same. A temporary alias is made by an order with
// ALIASPERSISTEDAFTERUSE=N.
func TestDirectLinkAliasWriteFails(t *testing.T) {
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			e := newEnvOn(t, eng.Open)
			ctx := context.Background()
			r := e.order(map[string]string{"CARDNO": mastercard, "ED": "0633", "CVC": "123", "ECI": "7",
				"ORDERID": "TMP-1", "ALIAS": "al-tmp", "ALIASPERSISTEDAFTERUSE": "N"})
			if r["STATUS"] != "5" || r["ALIAS"] != "al-tmp" {
				t.Fatalf("temporary alias order: %v", r)
			}
			if tok, err := e.vault.Get(ctx, shop.DemoShopID, "TEST", "al-tmp"); err != nil || tok.Permanent {
				t.Fatalf("temporary alias: %+v, %v", tok, err)
			}
			e.acq.setDuring(func() {
				e.clock.Advance(3 * time.Hour)
				if _, err := e.vault.ExpireTemporary(ctx, vault.PurgeOptions{}); err != nil {
					t.Errorf("expiry job: %v", err)
				}
			})
			r = e.order(map[string]string{"CARDNO": "4970100000000055", "ED": "1232", "CVC": "123", "ECI": "7",
				"ORDERID": "TMP-2", "ALIAS": "al-tmp"})
			e.acq.setDuring(nil)
			if r["STATUS"] != "5" || r["NCERROR"] != "0" || r["ALIAS"] != "" {
				t.Fatalf("order whose alias could not be written: %v, want STATUS 5 without ALIAS", r)
			}
			if q := e.direct("querydirect_utf8.asp", map[string]string{"PAYID": r["PAYID"]}); q["STATUS"] != "5" || q["ALIAS"] != "" {
				t.Fatalf("query: %v, want STATUS 5 without ALIAS", q)
			}
			if tok, _ := e.vault.Get(ctx, shop.DemoShopID, "TEST", "al-tmp"); tok.Status != vault.StatusPurged {
				t.Fatalf("alias after the failed write: %+v", tok)
			}
			if n := e.sealedCards(t); n != 0 {
				t.Fatalf("%d sealed cards left", n)
			}
		})
	}
}

// TestDirectLinkAliasOrderWhoseRowCannotBeRead: a CARDNO+ALIAS order whose
// payment started and whose outcome could not be written answers 52 with
// its PAYID; here the order row cannot be read back either (the read
// fails), so the call cannot tell whether the start write bound it and
// leaves it as it is. The same ORDERID must still be refused until the
// payment is known, recovery must settle the payment and store the alias,
// and querydirect (by PAYID and by ORDERID) must then say 5 with the ALIAS,
// not 52 for ever.
func TestDirectLinkAliasOrderWhoseRowCannotBeRead(t *testing.T) {
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			e := newEnvOn(t, eng.Open)
			ctx := context.Background()
			var end func()
			e.acq.setDuring(func() {
				if end != nil {
					return
				}
				endWrites := e.failTransactionWrites()
				// The order row cannot be read: a column its reads name is gone.
				if _, err := e.db.Writer().ExecContext(ctx, `ALTER TABLE ogone_orders RENAME COLUMN brand TO brand_gone`); err != nil {
					t.Errorf("breaking order reads: %v", err)
				}
				end = func() {
					endWrites()
					if _, err := e.db.Writer().ExecContext(ctx, `ALTER TABLE ogone_orders RENAME COLUMN brand_gone TO brand`); err != nil {
						t.Fatal(err)
					}
				}
			})
			order := map[string]string{"CARDNO": mastercard, "ED": "0633", "CVC": "123", "ECI": "7",
				"ORDERID": "RR-1", "ALIAS": "al-rr"}
			r := e.order(order)
			e.acq.setDuring(nil)
			if end == nil {
				t.Fatal("the acquirer was not called")
			}
			end()
			if r["STATUS"] != "52" || r["NCERROR"] != "20001001" || r["PAYID"] == "0" || r["PAYID"] == "" || r["ALIAS"] != "" {
				t.Fatalf("order whose outcome and row could not be written or read: %v, want STATUS 52 with its PAYID", r)
			}
			if q := e.direct("querydirect_utf8.asp", map[string]string{"PAYID": r["PAYID"]}); q["STATUS"] != "52" {
				t.Fatalf("query before recovery: %v, want 52", q)
			}
			if again := e.order(order); again["NCERROR"] != "50001113" {
				t.Fatalf("the same ORDERID before recovery: %v, want 50001113", again)
			}
			e.clock.Advance(time.Hour)
			if _, err := e.payments.RecoverRunning(ctx, time.Minute, 100); err != nil {
				t.Fatal(err)
			}
			for _, p := range []map[string]string{{"PAYID": r["PAYID"]}, {"ORDERID": "RR-1"}} {
				if q := e.direct("querydirect_utf8.asp", p); q["STATUS"] != "5" || q["PAYID"] != r["PAYID"] || q["ALIAS"] != "al-rr" {
					t.Fatalf("query %v after recovery: %v, want STATUS 5 with ALIAS al-rr", p, q)
				}
			}
			if again := e.order(order); again["NCERROR"] != "50001113" {
				t.Fatalf("the same ORDERID after recovery: %v, want 50001113", again)
			}
			if n := e.acq.authorizations(); n != 1 {
				t.Fatalf("%d authorizations, want 1", n)
			}
		})
	}
}

// TestDirectLinkOrderThatNeverStartedIsNotUnknownForEver: an order row that
// its request left unbound to any payment — the write that starts the
// payment did not commit, and the row could not be read back to tell (a
// CARDNO+ALIAS order answered 52 then), or the process stopped before that
// write — was answered 52 by querydirect for ever: the row is bound in the
// very write that starts the payment, so once no order request can still
// be running, an unbound row is a payment that never started. It answers
// STATUS 0 (invalid, NCERROR 40001011 technical problem) with its PAYID,
// and the ORDERID may be sent again.
func TestDirectLinkOrderThatNeverStartedIsNotUnknownForEver(t *testing.T) {
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			e := newEnvOn(t, eng.Open)
			now := e.clock.Now()
			if err := e.db.InsertOrder(context.Background(), ogone.Order{PAYID: 3000000011, ShopID: shop.DemoShopID, Mode: "TEST",
				OrderID: "NS-1", Operation: "RES", Status: 0, Alias: "al-ns", ECI: "7", PM: "CreditCard", CreatedAt: now, UpdatedAt: now}); err != nil {
				t.Fatal(err)
			}
			if q := e.direct("querydirect_utf8.asp", map[string]string{"PAYID": "3000000011"}); q["STATUS"] != "52" {
				t.Fatalf("query while its request may still run: %v, want 52", q)
			}
			e.clock.Advance(ogone.OrderStartLimit + time.Second)
			for _, p := range []map[string]string{{"PAYID": "3000000011"}, {"ORDERID": "NS-1"}} {
				q := e.direct("querydirect_utf8.asp", p)
				if q["STATUS"] != "0" || q["NCERROR"] != "40001011" || q["PAYID"] != "3000000011" || q["ALIAS"] != "" {
					t.Fatalf("query %v of an order that never started: %v, want STATUS 0, NCERROR 40001011", p, q)
				}
			}
			r := e.order(map[string]string{"CARDNO": mastercard, "ED": "0633", "CVC": "123", "ECI": "7", "ORDERID": "NS-1", "ALIAS": "al-ns"})
			if r["STATUS"] != "5" || r["ALIAS"] != "al-ns" || r["PAYID"] == "3000000011" {
				t.Fatalf("the ORDERID sent again: %v, want a new accepted order", r)
			}
			if q := e.direct("querydirect_utf8.asp", map[string]string{"ORDERID": "NS-1"}); q["STATUS"] != "5" || q["PAYID"] != r["PAYID"] {
				t.Fatalf("query by ORDERID: %v, want the paid order", q)
			}
		})
	}
}

// TestDirectLinkTemporaryAliasSettledLate: a CARDNO+ALIAS order with
// ALIASPERSISTEDAFTERUSE=N asks for a temporary alias, which Ingenico
// creates when the transaction succeeds and deletes 2 hours later. Its
// answer lost, recovery finds it accepted more than 2 hours after the
// order: the card kept for it had been sealed with the alias's 2 hours and
// was erased by then (the expiry job, or refused past its time), so the
// accepted payment got no alias at all. The 2 hours are the alias's, from
// when it exists: the kept card lives as long as its payment runs, the
// alias is created temporary when the acceptance is recorded, and it is
// deleted 2 hours after that.
func TestDirectLinkTemporaryAliasSettledLate(t *testing.T) {
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			e := newEnvOn(t, eng.Open)
			ctx := context.Background()
			e.acq.loseNextAnswer()
			r := e.order(map[string]string{"CARDNO": mastercard, "ED": "0633", "CVC": "123", "ECI": "7",
				"ORDERID": "TL-1", "ALIAS": "al-tl", "ALIASPERSISTEDAFTERUSE": "N"})
			if r["STATUS"] != "52" || r["ALIAS"] != "" {
				t.Fatalf("lost answer: %v, want STATUS 52 and no ALIAS yet", r)
			}
			e.clock.Advance(3 * time.Hour)
			if _, err := e.vault.ExpireTemporary(ctx, vault.PurgeOptions{}); err != nil {
				t.Fatal(err)
			}
			if _, err := e.payments.RecoverRunning(ctx, time.Minute, 100); err != nil {
				t.Fatal(err)
			}
			if q := e.direct("querydirect_utf8.asp", map[string]string{"PAYID": r["PAYID"]}); q["STATUS"] != "5" || q["ALIAS"] != "al-tl" {
				t.Fatalf("query after a late recovery: %v, want STATUS 5 with ALIAS al-tl", q)
			}
			tok, err := e.vault.Get(ctx, shop.DemoShopID, "TEST", "al-tl")
			if err != nil || tok.Permanent || tok.StatusAt(e.clock.Now()) != vault.StatusActive {
				t.Fatalf("temporary alias after a late recovery: %+v, %v", tok, err)
			}
			if r := e.order(map[string]string{"ORDERID": "TL-2", "ALIAS": "al-tl", "ALIASPERSISTEDAFTERUSE": "N"}); r["STATUS"] != "5" {
				t.Fatalf("the temporary alias within its 2 hours: %v", r)
			}
			e.clock.Advance(ogone.TemporaryAliasTTL)
			if _, err := e.vault.ExpireTemporary(ctx, vault.PurgeOptions{}); err != nil {
				t.Fatal(err)
			}
			if tok, _ := e.vault.Get(ctx, shop.DemoShopID, "TEST", "al-tl"); tok.Status != vault.StatusPurged {
				t.Fatalf("temporary alias 2 hours after it was created: %+v, want purged", tok)
			}
			if n := e.sealedCards(t); n != 0 {
				t.Fatalf("%d sealed cards left", n)
			}
		})
	}
}
