package ogone

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/openpsp/openpsp/internal/card"
	"github.com/openpsp/openpsp/internal/outbox"
	"github.com/openpsp/openpsp/internal/shop"
)

// Ingenico's post-sale request ("HTTP request for status changes", in the
// account's Configuration > Technical information > Transaction feedback):
// when the status of a transaction changes after its answer ("For each
// offline status change (payment, cancellation, etc.)"), Ingenico sends the
// URL the merchant set, with the method set (POST or GET), the
// SHA-OUT-signed parameters of the order. OpenPSP sends it for DirectLink
// orders through the outbox: queued in the write that changes the
// payment, delivered with the outbox's retries, signed at delivery with the
// PSPID's SHA-OUT passphrase and algorithm. See docs/flexcheckout.md.

// ChannelPostSale is the outbox channel of post-sale requests.
const ChannelPostSale = outbox.ChannelOgonePostSale

// EventPostSale names post-sale messages in the outbox.
const EventPostSale = "ogone.status-changed"

type answerKey struct{}

// withAnswer marks the context of a DirectLink order or maintenance
// request: what changes while it runs, its answer tells the merchant.
func withAnswer(ctx context.Context) context.Context {
	return context.WithValue(ctx, answerKey{}, true)
}

func answered(ctx context.Context) bool { return ctx.Value(answerKey{}) != nil }

// ECommerceOutFields is the e-Commerce / DirectLink SHA-OUT allow-list
// (compat.md §2.4, marlon-ogone ShaOutParameterFilter); DCC_* names are on
// it too.
var ECommerceOutFields = []string{
	"AAVADDRESS", "AAVCHECK", "AAVMAIL", "AAVNAME", "AAVPHONE", "AAVZIP", "ACCEPTANCE", "ALIAS", "AMOUNT", "BIC",
	"BIN", "BRAND", "CARDNO", "CCCTY", "CN", "COLLECTOR_BIC", "COLLECTOR_IBAN", "COMPLUS", "CREATION_STATUS",
	"CREDITDEBIT", "CURRENCY", "CVCCHECK", "DEVICEID", "DIGESTCARDNO", "ECI", "ED", "EMAIL", "ENCCARDNO",
	"FXAMOUNT", "FXCURRENCY", "IP", "IPCTY", "MANDATEID", "MOBILEMODE", "NBREMAILUSAGE", "NBRIPUSAGE",
	"NBRIPUSAGE_ALLTX", "NBRUSAGE", "NCERROR", "ORDERID", "PAYID", "PAYIDSUB", "PAYMENT_REFERENCE", "PM",
	"SCO_CATEGORY", "SCORING", "SEQUENCETYPE", "SIGNDATE", "STATUS", "SUBBRAND", "SUBSCRIPTION_ID", "TICKET",
	"TRXDATE", "VC",
}

var eCommerceOutSet = toSet(ECommerceOutFields)

// ECommerceOutKeep tells whether an uppercase name is signed by the
// e-Commerce / DirectLink SHA-OUT.
func ECommerceOutKeep(name string) bool {
	return eCommerceOutSet[name] || strings.HasPrefix(name, "DCC_")
}

// ValidPostSaleURL checks a post-sale URL: absolute http(s), no
// credentials, no fragment, UTF-8 (bytes of another encoding would
// reach the database as they are).
func ValidPostSaleURL(v string) error {
	if !utf8.ValidString(v) {
		return fmt.Errorf("ogone: the post-sale URL must be UTF-8 text, not %q (bytes of another encoding: set your terminal or client to UTF-8)", v)
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.Fragment != "" {
		return fmt.Errorf("ogone: the post-sale URL must be an absolute http(s) URL without credentials, not %q", v)
	}
	return nil
}

// StatusChange is a transaction of a payment that moved after its
// answer, as the payment service's status hook tells it.
type StatusChange struct {
	// DirectLink tells that the payment is a DirectLink order
	// (payment.OriginDirectLink): the others (V4 payments, the bulk of a
	// platform's) are passed over before any read, since the hook runs in
	// every status change's write.
	DirectLink bool
	ShopID     string
	Mode       string
	OrderID    string // the payment's order id (the DirectLink ORDERID)
	// DebitUUID is the DEBIT the DirectLink order is bound to: the
	// transaction itself, or the one a refund (CREDIT) refunds.
	DebitUUID     string
	Before, After PaymentTx
	Expiry        string // MMYY of the card, "" when unknown
	Holder        string // the cardholder's name, "" when unknown
	At            time.Time
}

// PostSaleStore reads, inside the write of a change, what the post-sale
// request says; *store.DB implements it.
type PostSaleStore interface {
	// OrderOfTransactionTx returns ErrNotFound (wrapped) when the payment
	// is no DirectLink order.
	OrderOfTransactionTx(tx *sql.Tx, shopID, mode, orderID, transactionUUID string) (Order, error)
	OrderOpsTx(tx *sql.Tx, payid int64) ([]OrderOp, error)
	// OgoneSettingsTx returns shop.ErrNotFound for a shop without an
	// Ogone account.
	OgoneSettingsTx(tx *sql.Tx, shopID string) (shop.OgoneSettings, error)
}

// PostSaleAccounts gives a shop's Ogone account, passphrases in clear, to
// sign a post-sale request when it is sent; *shop.Service implements it.
type PostSaleAccounts interface {
	OgoneForShop(ctx context.Context, shopID string) (shop.Ogone, error)
}

// postSalePayload is the stored payload of a post-sale message: what is
// sent, unsigned (the signature is computed at delivery, under the SHA-OUT
// passphrase then, so that the outbox holds no secret-derived value that
// outlives a passphrase change).
type postSalePayload struct {
	Method string     `json:"method"`
	Params [][]string `json:"params"`
}

// PostSaleMessages returns the post-sale request of a change (none when
// the change is answered by the DirectLink request that makes it, when the
// payment is no DirectLink order, when its Ogone status does not change, or
// when the PSPID has no post-sale URL).
func PostSaleMessages(ctx context.Context, tx *sql.Tx, st PostSaleStore, ch StatusChange) ([]outbox.Message, error) {
	if answered(ctx) || !ch.DirectLink {
		return nil, nil
	}
	credit := ch.After.OperationType == operationCredit
	status, ncerr := postSaleStatus(ch.After, credit)
	if was, _ := postSaleStatus(ch.Before, credit); was == status {
		// Ingenico's request is for status changes: an amount lowered
		// (a V4 update, a partial cancellation) leaves the order 5.
		return nil, nil
	}
	o, err := st.OrderOfTransactionTx(tx, ch.ShopID, ch.Mode, ch.OrderID, ch.DebitUUID)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	set, err := st.OgoneSettingsTx(tx, ch.ShopID)
	if errors.Is(err, shop.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ogone: post-sale settings: %w", err)
	}
	if set.PostSaleURL == "" {
		return nil, nil
	}
	ops, err := st.OrderOpsTx(tx, o.PAYID)
	if err != nil {
		return nil, err
	}
	// The amount is the transaction's: a refund's own, the capture's, or
	// what a cancellation cancelled (a partial DEL, which lowers the
	// debit, changes no status and sends nothing).
	op, ok := postSaleOp(ops, ch.After, credit)
	amount := ch.After.Amount
	if !credit && !ok {
		// A change of the order itself: its amount as querydirect gives
		// it (an order captured in parts, closed, for all its captures).
		amount = orderAmount(ch.After)
	}
	ps := PostSaleParams(o, ch, status, ncerr, op.PAYIDSUB, amount)
	method := set.PostSaleMethod
	if method == "" {
		method = http.MethodPost
	}
	pl := postSalePayload{Method: method}
	for _, p := range ps {
		pl.Params = append(pl.Params, []string{p.Name, p.Value})
	}
	body, err := json.Marshal(pl)
	if err != nil {
		return nil, err
	}
	return []outbox.Message{{ShopID: ch.ShopID, Channel: ChannelPostSale, Event: EventPostSale,
		OrderingKey: "ogone:" + strconv.FormatInt(o.PAYID, 10), Target: set.PostSaleURL, Payload: string(body)}}, nil
}

// postSaleStatus is the Ogone STATUS of a transaction as querydirect
// gives it.
func postSaleStatus(t PaymentTx, credit bool) (int, string) {
	if credit {
		return refundStatus(t)
	}
	return debitStatus(t)
}

// postSaleOp is the maintenance operation a change settles: a refund's
// own (by its CREDIT), or the order's latest capture (a capture change) or
// deletion (a cancellation) when it was answered pending (91, 61) and this
// change is its outcome. ok is false for a change of the order itself (an
// order answered 52, a sale answered 91) and for one no maintenance
// operation made: a V4 cancellation after a partial DEL (answered 6 for
// its own amount at the time) is not that DEL, and telling its PAYIDSUB
// and amount would have the merchant book the wrong operation and amount.
func postSaleOp(ops []OrderOp, t PaymentTx, credit bool) (OrderOp, bool) {
	var found OrderOp
	ok := false
	for _, op := range ops {
		switch {
		case credit || t.ParentUUID != "":
			// A refund's, or a SAL's part's: the operation that made it.
			if slices.Contains(splitUUIDs(op.TransactionUUID), t.UUID) {
				found, ok = op, true
			}
		case t.DetailedStatus == dsCaptured || t.DetailedStatus == dsCaptureFailed:
			if (op.Operation == "SAL" || op.Operation == "SAS") && op.TransactionUUID == "" {
				found, ok = op, op.Status == stPaymentPending
			}
		case t.DetailedStatus == dsCancelled:
			if op.Operation == "DEL" || op.Operation == "DES" {
				found, ok = op, op.Status == stCancelPending
			}
		}
	}
	if !ok {
		return OrderOp{}, false
	}
	return found, true
}

// PostSaleParams are the parameters of a post-sale request, named as
// Ingenico's e-Commerce feedback names them (orderID, amount and currency
// in that case, the rest in capitals), without SHASIGN.
func PostSaleParams(o Order, ch StatusChange, status int, ncerr string, payidsub int, amount int64) Params {
	t := ch.After
	ps := Params{
		{"orderID", o.OrderID},
		{"currency", t.Currency},
		{"amount", formatAmount(amount, t.Currency)},
		{"PM", o.PM},
		{"ACCEPTANCE", t.AuthNumber},
		{"STATUS", strconv.Itoa(status)},
	}
	pan := t.PANMasked
	if pan == "" {
		pan = ch.Before.PANMasked
	}
	if pan != "" {
		ps = append(ps, Param{"CARDNO", maskCardNo(pan)})
	}
	ps = append(ps, Param{"ED", ch.Expiry}, Param{"CN", ch.Holder},
		Param{"TRXDATE", ch.At.UTC().Format("01/02/06")},
		Param{"PAYID", strconv.FormatInt(o.PAYID, 10)})
	if payidsub > 0 {
		ps = append(ps, Param{"PAYIDSUB", strconv.Itoa(payidsub)})
	}
	ps = append(ps, Param{"NCERROR", ncerr}, Param{"BRAND", BrandName(card.Brand(t.Brand))})
	if o.ECI != "" {
		ps = append(ps, Param{"ECI", o.ECI})
	}
	if o.Alias != "" && t.Token == o.Alias {
		ps = append(ps, Param{"ALIAS", o.Alias})
	}
	// Empty values are not sent, as they are not signed.
	out := ps[:0]
	for _, p := range ps {
		if p.Value != "" {
			out = append(out, p)
		}
	}
	return out
}

// SignPostSale adds SHASIGN, the SHA-OUT of ps under the account's SHA-OUT
// passphrase and algorithm, and returns the form (URL-encoded) in the
// account's character encoding, which the signature is computed in too.
func SignPostSale(acct shop.Ogone, ps Params) ([]byte, error) {
	latin1 := acct.Settings.Charset != CharsetUTF8
	s := ComposeSHA(ps, acct.SHAOut, ECommerceOutKeep)
	raw := []byte(s)
	if latin1 {
		raw = encodeLatin1(s)
	}
	sign, err := Digest(acct.SHAAlgorithm, raw)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	for _, p := range append(ps[:len(ps):len(ps)], Param{"SHASIGN", sign}) {
		if p.Value == "" {
			// Not signed, not sent: a receiver that signs what it got
			// signs the same.
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		v := p.Value
		if latin1 {
			v = string(encodeLatin1(v))
		}
		b.WriteString(url.QueryEscape(p.Name))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(v))
	}
	return []byte(b.String()), nil
}

// PostSaleDeliverer sends the post-sale requests of the outbox.
type PostSaleDeliverer struct {
	accounts PostSaleAccounts
	client   *http.Client
}

// NewPostSaleDeliverer returns the deliverer of ChannelPostSale.
func NewPostSaleDeliverer(accounts PostSaleAccounts, o outbox.HTTPOptions) *PostSaleDeliverer {
	return &PostSaleDeliverer{accounts: accounts, client: outbox.NewHTTPClient(o)}
}

// Deliver signs and sends one post-sale request. Any 2xx answer is taken.
func (d *PostSaleDeliverer) Deliver(ctx context.Context, m outbox.Delivery) (outbox.Outcome, error) {
	var pl postSalePayload
	if err := json.Unmarshal([]byte(m.Payload), &pl); err != nil {
		return outbox.Outcome{}, outbox.Permanent(fmt.Errorf("post-sale payload: %w", err))
	}
	acct, err := d.accounts.OgoneForShop(ctx, m.ShopID)
	if errors.Is(err, shop.ErrNotFound) {
		return outbox.Outcome{}, outbox.Permanent(errors.New("the shop has no Ogone account any more: no SHA-OUT passphrase"))
	}
	if err != nil {
		return outbox.Outcome{}, fmt.Errorf("post-sale account: %w", err)
	}
	ps := make(Params, 0, len(pl.Params))
	for _, p := range pl.Params {
		if len(p) == 2 {
			ps = append(ps, Param{p[0], p[1]})
		}
	}
	form, err := SignPostSale(acct, ps)
	if err != nil {
		return outbox.Outcome{}, outbox.Permanent(err)
	}
	h := http.Header{}
	// Not Ingenico's; lets a merchant deduplicate a retried request.
	h.Set(outbox.EventIDHeader, m.ID)
	return outbox.SendForm(ctx, d.client, pl.Method, m.Target, form, h)
}
