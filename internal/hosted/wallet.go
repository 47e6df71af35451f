package hosted

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/openpsp/openpsp/internal/card"
)

// Buyer wallets (seed document 003): on a CUSTOMER_WALLET form the buyer
// sees the cards saved under their customer reference, pays with one of
// them or with a new card (saved or not, "New card" tab), and may delete a
// saved card with its bin icon. Everything about the cards themselves is
// behind Options.Wallet; without it a CUSTOMER_WALLET form is a plain card
// form with a "save my card" box.
//
// A one-click form (Form.OneClick: CreatePayment with a paymentMethodToken)
// shows the merchant's token the same way, as the only saved card, without
// a bin icon: the token is the merchant's, not the buyer's to delete. On
// both, the buyer confirms the chosen card with its security code (Lyra's
// forms ask it; the code is never stored, so it cannot be filled in).

// SavedCard is a card of the buyer's wallet as the form shows it.
type SavedCard struct {
	// ID names the card in the page. It is not the token: the page never
	// holds a credential the merchant could pay with.
	ID          string
	Brand       string // effective brand (VISA, CB …)
	PANMasked   string // 497010XXXXXX0055
	ExpiryMonth int
	ExpiryYear  int
	// InSubscription: an active subscription pays with this card; the
	// buyer is told to contact the merchant instead of deleting it.
	InSubscription bool
}

// Wallet is the buyer's wallet on a CUSTOMER_WALLET form, or the card of a
// one-click form.
type Wallet struct {
	// Cards are the saved cards the buyer may pay with: active, not
	// expired, of the brands a wallet keeps; on a one-click form the
	// token's card if it can pay. Empty for any other form.
	Cards []SavedCard
	// ManualDeletion: the shop deletes saved cards itself (back-office
	// setting); the bin icon tells the buyer to contact it.
	ManualDeletion bool
}

// Results of Wallets.Delete.
const (
	// DeleteDone: the card left the wallet (its token is cancelled).
	DeleteDone = "deleted"
	// DeleteManual: the shop deletes cards itself; nothing changed.
	DeleteManual = "manual"
	// DeleteSubscription: a subscription pays with the card; nothing changed.
	DeleteSubscription = "subscription"
)

// ErrCardNotFound is what Wallets returns (wrapped or not) for a card id
// that is not in the form's wallet.
var ErrCardNotFound = errors.New("hosted: unknown saved card")

// Wallets is the buyer-wallet service as the pages use it (Options.Wallet).
type Wallets interface {
	// Wallet returns the buyer's wallet for the form of formToken.
	Wallet(ctx context.Context, formToken string) (Wallet, error)
	// SavedCard returns the number and expiry of a saved card, for 3-D
	// Secure, which runs on a saved card as on a typed one.
	SavedCard(ctx context.Context, formToken, cardID string) (card.PAN, card.Expiry, error)
	// PaySaved makes one payment attempt with the saved card in.Saved
	// (in.ThreeDS as for Payments.PayCard). Same contract as PayCard.
	PaySaved(ctx context.Context, formToken string, in CardInput) (Outcome, error)
	// Delete deletes a saved card at the buyer's request and says what
	// happened (DeleteDone, DeleteManual, DeleteSubscription).
	Delete(ctx context.Context, formToken, cardID string) (string, error)
}

// Form fields of a saved card: its id, and its security code.
const (
	fieldSaved    = "saved"
	fieldSavedCSC = "saved_csc"
)

// fieldTab is the wallet tab chosen without the script: "new" (tabNew) in
// the query of the page shows the new card's panel, and in a form posted
// from that panel says the card typed there is the one to pay with.
const (
	fieldTab = "tab"
	tabNew   = "new"
)

// savedCardPosted is the id of the saved card a card form pays with, ""
// for the card typed in it: a form posted without the script from the New
// card's panel carries the saved card chosen (checked) in the hidden
// panel too.
func savedCardPosted(posted url.Values) string {
	if posted.Get(fieldTab) == tabNew {
		return ""
	}
	return posted.Get(fieldSaved)
}

// walletMessages are the wallet's texts, merged into messages.
var walletMessages = map[string]map[string]string{
	"en": {
		"wallet_saved":         "Saved cards",
		"wallet_new":           "New card",
		"wallet_expires":       "expires %s",
		"wallet_delete":        "Delete the card ending in %s",
		"wallet_confirm":       "Delete the card ending in %s? You will no longer be able to pay with it.",
		"wallet_confirm_yes":   "Delete",
		"wallet_confirm_no":    "Cancel",
		"wallet_deleted":       "The card ending in %s has been deleted.",
		"wallet_manual":        "To delete this card, please contact the shop.",
		"wallet_subscription":  "This card pays a subscription and cannot be deleted here. Please contact the shop.",
		"wallet_delete_failed": "The card could not be deleted. Please try again.",
		"wallet_none":          "Choose one of your saved cards, or open the New card tab.",
		"wallet_card_gone":     "This card is no longer among your saved cards: it may already have been deleted.",
	},
	"fr": {
		"wallet_saved":         "Cartes enregistrées",
		"wallet_new":           "Nouvelle carte",
		"wallet_expires":       "expire fin %s",
		"wallet_delete":        "Supprimer la carte se terminant par %s",
		"wallet_confirm":       "Supprimer la carte se terminant par %s\u00a0? Vous ne pourrez plus payer avec.",
		"wallet_confirm_yes":   "Supprimer",
		"wallet_confirm_no":    "Annuler",
		"wallet_deleted":       "La carte se terminant par %s a été supprimée.",
		"wallet_manual":        "Pour supprimer cette carte, veuillez contacter la boutique.",
		"wallet_subscription":  "Cette carte paie un abonnement et ne peut pas être supprimée ici. Veuillez contacter la boutique.",
		"wallet_delete_failed": "La carte n’a pas pu être supprimée. Veuillez réessayer.",
		"wallet_none":          "Choisissez une de vos cartes enregistrées, ou ouvrez l’onglet Nouvelle carte.",
		"wallet_card_gone":     "Cette carte ne fait plus partie de vos cartes enregistrées\u00a0: elle a peut-être déjà été supprimée.",
	},
	"es": {
		"wallet_saved":         "Tarjetas guardadas",
		"wallet_new":           "Nueva tarjeta",
		"wallet_expires":       "caduca %s",
		"wallet_delete":        "Eliminar la tarjeta terminada en %s",
		"wallet_confirm":       "¿Eliminar la tarjeta terminada en %s? Ya no podrá pagar con ella.",
		"wallet_confirm_yes":   "Eliminar",
		"wallet_confirm_no":    "Cancelar",
		"wallet_deleted":       "La tarjeta terminada en %s ha sido eliminada.",
		"wallet_manual":        "Para eliminar esta tarjeta, póngase en contacto con la tienda.",
		"wallet_subscription":  "Esta tarjeta paga una suscripción y no se puede eliminar aquí. Póngase en contacto con la tienda.",
		"wallet_delete_failed": "No se pudo eliminar la tarjeta. Inténtelo de nuevo.",
		"wallet_none":          "Elija una de sus tarjetas guardadas, o abra la pestaña Nueva tarjeta.",
		"wallet_card_gone":     "Esta tarjeta ya no figura entre sus tarjetas guardadas: puede que ya se haya eliminado.",
	},
	"it": {
		"wallet_saved":         "Carte salvate",
		"wallet_new":           "Nuova carta",
		"wallet_expires":       "scade %s",
		"wallet_delete":        "Elimina la carta che termina con %s",
		"wallet_confirm":       "Eliminare la carta che termina con %s? Non potrà più pagare con essa.",
		"wallet_confirm_yes":   "Elimina",
		"wallet_confirm_no":    "Annulla",
		"wallet_deleted":       "La carta che termina con %s è stata eliminata.",
		"wallet_manual":        "Per eliminare questa carta, contatti il negozio.",
		"wallet_subscription":  "Questa carta paga un abbonamento e non può essere eliminata qui. Contatti il negozio.",
		"wallet_delete_failed": "Non è stato possibile eliminare la carta. Riprovi.",
		"wallet_none":          "Scelga una delle Sue carte salvate, o apra la scheda Nuova carta.",
		"wallet_card_gone":     "Questa carta non è più tra le Sue carte salvate: potrebbe essere già stata eliminata.",
	},
	"de": {
		"wallet_saved":         "Gespeicherte Karten",
		"wallet_new":           "Neue Karte",
		"wallet_expires":       "gültig bis %s",
		"wallet_delete":        "Karte mit Endziffern %s löschen",
		"wallet_confirm":       "Karte mit Endziffern %s löschen? Sie können danach nicht mehr mit ihr bezahlen.",
		"wallet_confirm_yes":   "Löschen",
		"wallet_confirm_no":    "Abbrechen",
		"wallet_deleted":       "Die Karte mit Endziffern %s wurde gelöscht.",
		"wallet_manual":        "Um diese Karte zu löschen, wenden Sie sich bitte an den Shop.",
		"wallet_subscription":  "Mit dieser Karte wird ein Abonnement bezahlt; sie kann hier nicht gelöscht werden. Bitte wenden Sie sich an den Shop.",
		"wallet_delete_failed": "Die Karte konnte nicht gelöscht werden. Bitte versuchen Sie es erneut.",
		"wallet_none":          "Wählen Sie eine Ihrer gespeicherten Karten oder öffnen Sie den Reiter Neue Karte.",
		"wallet_card_gone":     "Diese Karte gehört nicht mehr zu Ihren gespeicherten Karten; sie wurde möglicherweise bereits gelöscht.",
	},
}

func init() {
	addMessages(walletMessages)
	clientKeys = append(clientKeys, "wallet_confirm", "wallet_deleted", "wallet_manual", "wallet_subscription",
		"wallet_delete_failed", "wallet_none")
}

// savedCardView is one saved card in the template.
type savedCardView struct {
	ID             string
	BrandName      string
	PANMasked      string
	Last4          string
	ExpiryText     string
	DeleteLabel    string
	InSubscription bool
	CSCLength      int    // digits of its security code
	CSCHint        string // where that code is on the card
}

// hasSavedCards reports whether the form may show saved cards: a
// CUSTOMER_WALLET form, or a one-click form.
func hasSavedCards(f Form) bool { return f.FormAction == "CUSTOMER_WALLET" || f.OneClick }

// walletOf returns the buyer's wallet for the page, nil when there is none
// to show. A failure to read it is logged and the form falls back to a
// new card: the buyer can still pay.
func (h *Handler) walletOf(pg page) *Wallet {
	if h.wallet == nil || !hasSavedCards(pg.form) || pg.ctx == nil {
		return nil
	}
	w, err := h.wallet.Wallet(pg.ctx, pg.token)
	if err != nil {
		h.log.ErrorContext(pg.ctx, "hosted: loading the buyer's wallet", "err", err)
		return nil
	}
	if len(w.Cards) == 0 {
		return nil
	}
	return &w
}

// fillWallet puts the saved cards in a form view.
func (h *Handler) fillWallet(pg page, v *view) {
	w := h.walletOf(pg)
	if w == nil {
		return
	}
	m := v.M
	for _, c := range w.Cards {
		last4 := last4Of(c)
		name := card.Brand(c.Brand).BuyerName()
		csc, hint := 3, m["csc_hint_back"]
		if c.Brand == "AMEX" {
			csc, hint = 4, m["csc_hint_front"]
		}
		v.Wallet = append(v.Wallet, savedCardView{
			ID: c.ID, BrandName: name, PANMasked: c.PANMasked, Last4: last4,
			ExpiryText:     fmt.Sprintf(m["wallet_expires"], fmt.Sprintf("%02d/%02d", c.ExpiryMonth, c.ExpiryYear%100)),
			DeleteLabel:    fmt.Sprintf(m["wallet_delete"], last4),
			InSubscription: c.InSubscription,
			CSCLength:      csc,
			CSCHint:        hint,
		})
	}
	v.WalletSingle = len(v.Wallet) == 1
	v.WalletOneClick = pg.form.OneClick
	v.WalletDeletion = "AUTOMATIC"
	if w.ManualDeletion {
		v.WalletDeletion = "MANUAL"
	}
	v.WalletAction = h.actionURL(pg, "/wallet/delete")
	v.WalletDeletePageAction = h.actionURL(pg, walletDeletePagePath)
	h.fillWalletTabs(pg, v)
	v.newCardChosen = pg.newCard
}

// fillWalletTabs sets the GET form back to the page (the tabs', and the
// confirmation page's Cancel): its path, and its parameters as fields.
func (h *Handler) fillWalletTabs(pg page, v *view) {
	v.WalletTabAction = pagePath(pg)
	q := pg.params.query()
	for _, k := range slices.Sorted(maps.Keys(q)) {
		for _, val := range q[k] {
			v.WalletTabParams = append(v.WalletTabParams, formField{Name: k, Value: val})
		}
	}
}

// last4Of is the end of a saved card's number, as the buyer reads it.
func last4Of(c SavedCard) string {
	if len(c.PANMasked) > 4 {
		return c.PANMasked[len(c.PANMasked)-4:]
	}
	return c.PANMasked
}

// submitSaved pays with a saved card: its security code, 3-D Secure on its
// number, then Wallets.PaySaved.
func (h *Handler) submitSaved(w http.ResponseWriter, r *http.Request, pg page, asJSON bool, cardID string) {
	ctx := r.Context()
	if h.wallet == nil || !hasSavedCards(pg.form) || len(cardID) > 100 {
		h.respondChooseCard(w, pg, asJSON)
		return
	}
	pan, exp, err := h.wallet.SavedCard(ctx, pg.token, cardID)
	if errors.Is(err, ErrCardNotFound) {
		h.respondChooseCard(w, pg, asJSON)
		return
	}
	if errors.Is(err, ErrUnavailable) {
		h.log.ErrorContext(ctx, "hosted: reading a saved card", "err", err)
		h.unavailable(w, r, pg, asJSON)
		return
	}
	if err != nil {
		h.log.ErrorContext(ctx, "hosted: reading a saved card", "err", err)
		h.respondRetry(w, pg, asJSON, ReasonTechnical, pg.form.AttemptsLeft, nil)
		return
	}
	// The security code is asked for every saved card, of a wallet as of a
	// one-click form: it is never stored, and Lyra's wallet form keeps the
	// card's fields with the code required (document 003's formToken).
	code, ferr := parseCSC(r.PostForm.Get(fieldSavedCSC), pan)
	if ferr != nil {
		h.respondFieldErrors(w, r, pg, asJSON, map[string]fieldError{fieldSavedCSC: *ferr}, r.PostForm)
		return
	}
	in := CardInput{PAN: pan, Expiry: exp, Saved: cardID, CVV: code}
	h.authenticateAndPay(w, r, pg, asJSON, in)
}

// respondChooseCard answers a saved-card payment without a (valid) card:
// CLIENT_311, "please select a card", as Lyra's client names it.
func (h *Handler) respondChooseCard(w http.ResponseWriter, pg page, asJSON bool) {
	m := messages[pg.lang]
	kerr := &krError{ErrorCode: "CLIENT_311", ErrorMessage: "please select a card"}
	if asJSON {
		writeJSON(w, http.StatusUnprocessableEntity, apiResponse{Step: "form", Message: m["wallet_none"], Error: kerr})
		return
	}
	v := h.formView(pg)
	v.Message = m["wallet_none"]
	v.ErrorCode, v.ErrorMessage = kerr.ErrorCode, kerr.ErrorMessage
	h.render(w, http.StatusUnprocessableEntity, pg, v)
}

// walletResponse answers a deletion.
type walletResponse struct {
	// Result is DeleteDone, DeleteManual, DeleteSubscription, resultGone,
	// or "error".
	Result  string `json:"result"`
	Message string `json:"message"`
}

// resultGone answers the deletion of a card no longer in the form's wallet
// (Wallets.Delete's ErrCardNotFound): the script takes it off the list, as
// a deleted one. A post that names no card, or a form without a wallet,
// is an "error".
const resultGone = "gone"

// deleteCard is POST …/{formToken}/wallet/delete (form script only): the
// buyer confirmed the deletion of a saved card.
func (h *Handler) deleteCard(w http.ResponseWriter, r *http.Request, embedded bool) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		failUnreadableFetch(w, r, embedded)
		return
	}
	pg, ok := h.load(w, r, embedded, true)
	if !ok {
		return
	}
	m := messages[pg.lang]
	id := r.PostForm.Get("card")
	if h.wallet == nil || pg.form.FormAction != "CUSTOMER_WALLET" || id == "" || len(id) > 100 {
		writeWallet(w, http.StatusNotFound, walletResponse{Result: "error", Message: m["wallet_card_gone"]})
		return
	}
	res, err := h.wallet.Delete(r.Context(), pg.token, id)
	switch {
	case errors.Is(err, ErrCardNotFound):
		// Deleted meanwhile (another tab, the merchant), purged, or never
		// this wallet's: trying again cannot delete it, and the script
		// takes it off its list.
		writeWallet(w, http.StatusNotFound, walletResponse{Result: resultGone, Message: m["wallet_card_gone"]})
	case errors.Is(err, ErrFormNotFound):
		writeWallet(w, http.StatusNotFound, walletResponse{Result: "error", Message: m["form_not_found"]})
	case errors.Is(err, ErrUnavailable):
		// As the page without the script answers it: a retry in a few
		// minutes, not at once.
		h.log.ErrorContext(r.Context(), "hosted: deleting a saved card", "err", err)
		w.Header().Set("Retry-After", strconv.Itoa(RetryAfter))
		writeWallet(w, http.StatusServiceUnavailable, walletResponse{Result: "error", Message: m[MessageUnavailable]})
	case err != nil:
		h.log.ErrorContext(r.Context(), "hosted: deleting a saved card", "err", err)
		writeWallet(w, http.StatusInternalServerError, walletResponse{Result: "error", Message: m["wallet_delete_failed"]})
	case res == DeleteManual, res == DeleteSubscription:
		// The script asks only when its page said neither: the shop's
		// setting or the card's subscription changed since the page was
		// shown. Nothing was deleted; the result tells the script which.
		writeWallet(w, http.StatusConflict, walletResponse{Result: res, Message: m[walletRefusals[res]]})
	default:
		writeWallet(w, http.StatusOK, walletResponse{Result: DeleteDone})
	}
}

// walletRefusals are the messages of the deletions Wallets.Delete refuses.
var walletRefusals = map[string]string{DeleteManual: "wallet_manual", DeleteSubscription: "wallet_subscription"}

func writeWallet(w http.ResponseWriter, status int, v walletResponse) {
	setJSONHeaders(w)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// walletDeletePagePath is the deletion of a saved card without the script:
// the bin icon, a submit button, posts the card there (a form of its own,
// outside the card form: nothing typed goes with it). The script's fetch
// keeps "/wallet/delete", which answers JSON whatever the request says.
const walletDeletePagePath = "/wallet/delete/page"

// fieldConfirm, "yes", is the second, deliberate submit of a deletion
// without the script: the first post only shows the confirmation page.
const fieldConfirm = "confirm"

// deleteCardPage is POST …/{formToken}/wallet/delete/page: a buyer without
// the script deletes a saved card. The first post shows a page asking to
// confirm (Delete, or Cancel back to the form), as the script's dialog
// does; the confirmed post deletes through Wallets.Delete, like the
// script's, and the form comes back with the outcome in the wallet's
// status line. Manual deletion and subscription cards are told at once,
// as the script tells them without asking.
func (h *Handler) deleteCardPage(w http.ResponseWriter, r *http.Request, embedded bool) {
	pg, ok := h.loadPage(w, r, embedded)
	if !ok {
		return
	}
	m := messages[pg.lang]
	id := r.PostForm.Get("card")
	var wallet Wallet
	if h.wallet != nil && pg.form.FormAction == "CUSTOMER_WALLET" && id != "" && len(id) <= 100 {
		// Read here, not with walletOf: a form can fall back to a new
		// card when its wallet cannot be read, a deletion cannot.
		var err error
		if wallet, err = h.wallet.Wallet(r.Context(), pg.token); err != nil {
			h.failDeletePage(w, r, pg, err)
			return
		}
	}
	var chosen *SavedCard
	for i := range wallet.Cards {
		if wallet.Cards[i].ID == id {
			chosen = &wallet.Cards[i]
		}
	}
	switch {
	case chosen == nil:
		h.failDeletePage(w, r, pg, ErrCardNotFound)
		return
	case wallet.ManualDeletion:
		h.renderWalletStatus(w, http.StatusOK, pg, m["wallet_manual"])
		return
	case chosen.InSubscription:
		h.renderWalletStatus(w, http.StatusOK, pg, m["wallet_subscription"])
		return
	case r.PostForm.Get(fieldConfirm) != "yes":
		v := h.newView(pg, pageConfirmDelete)
		v.Heading = fmt.Sprintf(m["wallet_confirm"], last4Of(*chosen))
		v.Title = v.Heading
		v.Action = h.actionURL(pg, walletDeletePagePath)
		v.DeleteCard = chosen.ID
		h.fillWalletTabs(pg, v)
		h.render(w, http.StatusOK, pg, v)
		return
	}
	res, err := h.wallet.Delete(r.Context(), pg.token, id)
	switch {
	case err != nil:
		h.failDeletePage(w, r, pg, err)
	case res == DeleteManual, res == DeleteSubscription:
		// Neither held when the confirmation page was shown: it is out
		// of date, as the script's page is when it gets these (409).
		h.renderWalletStatus(w, http.StatusConflict, pg, m[walletRefusals[res]])
	default:
		h.redirectAfterDelete(w, r, pg, last4Of(*chosen))
	}
}

// failDeletePage answers a deletion without the script whose wallet could
// not be read or whose card could not be deleted, as the script's deletion
// answers it (deleteCard), in a page: a card not (or no longer) in the
// wallet, the form again saying so (404); a form gone, the invalid link's
// page (404); the database unavailable, the temporarily-unavailable page
// (503, Retry-After) as every page answers it; any other failure, the form
// again saying the card could not be deleted, still usable, but HTTP 500:
// it is the service's failure, and the script's deletion says 500 too.
func (h *Handler) failDeletePage(w http.ResponseWriter, r *http.Request, pg page, err error) {
	m := messages[pg.lang]
	switch {
	case errors.Is(err, ErrCardNotFound):
		h.renderWalletStatus(w, http.StatusNotFound, pg, m["wallet_card_gone"])
	case errors.Is(err, ErrFormNotFound):
		h.fail(w, pg, false, http.StatusNotFound, "form_not_found", "CLIENT_100", "")
	case errors.Is(err, ErrUnavailable):
		h.log.ErrorContext(r.Context(), "hosted: deleting a saved card", "err", err)
		h.unavailable(w, r, pg, false)
	default:
		h.log.ErrorContext(r.Context(), "hosted: deleting a saved card", "err", err)
		h.renderWalletStatus(w, http.StatusInternalServerError, pg, m["wallet_delete_failed"])
	}
}

// fieldDeleted, in the query of the form's page, is the last four digits
// of the saved card a deletion without the script has just deleted: the
// page tells it in the wallet's status line.
const fieldDeleted = "deleted"

// walletMessageID is the id of the wallet's status line, the fragment the
// page is loaded at after a deletion: the focus is on the outcome.
const walletMessageID = "kr-wallet-msg"

// redirectAfterDelete answers a deletion done without the script with 303
// to the form's page (Post/Redirect/Get), with the page's parameters and
// the card's last digits (fieldDeleted): the page shows the wallet without
// the card and says it is deleted, and reloading it loads the page again
// instead of posting the deletion again, which would read "could not be
// deleted".
func (h *Handler) redirectAfterDelete(w http.ResponseWriter, r *http.Request, pg page, last4 string) {
	q := pg.params.query()
	q.Set(fieldDeleted, last4)
	setPageHeaders(w, pagePolicy{nonce: newNonce(), embedded: pg.embedded})
	http.Redirect(w, r, pagePath(pg)+"?"+q.Encode()+"#"+walletMessageID, http.StatusSeeOther)
}

// deletedCard is the last digits of the card a deletion without the
// script has just deleted (fieldDeleted in the query of a wallet's page),
// "" when there is none: anything but four digits is ignored, so that the
// address tells nothing else in the page.
func deletedCard(q url.Values, f Form) string {
	d := q.Get(fieldDeleted)
	if f.FormAction != "CUSTOMER_WALLET" || len(d) != 4 || strings.Trim(d, "0123456789") != "" {
		return ""
	}
	return d
}

// renderWalletStatus shows the form again with msg in the wallet's status
// line, or, when no saved card is left to show, in the form's error area:
// msg then says the deletion failed.
func (h *Handler) renderWalletStatus(w http.ResponseWriter, status int, pg page, msg string) {
	v := h.formView(pg)
	if len(v.Wallet) > 0 {
		v.WalletMessage = msg
	} else {
		v.Message = msg
	}
	h.render(w, status, pg, v)
}
