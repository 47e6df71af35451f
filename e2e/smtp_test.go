package e2e

import (
	"context"
	"io"
	"mime"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/openpsp/openpsp/internal/card"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/vault"
)

// mailbox is a real SMTP server on 127.0.0.1 that keeps what it receives.
type mailbox struct {
	mu   sync.Mutex
	msgs []*mail.Message
	body []string
	addr string
}

type mailSession struct{ mb *mailbox }

func (s mailSession) AuthMechanisms() []string             { return nil }
func (s mailSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s mailSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s mailSession) Reset()                               {}
func (s mailSession) Logout() error                        { return nil }
func (s mailSession) Data(r io.Reader) error {
	m, err := mail.ReadMessage(r)
	if err != nil {
		return err
	}
	b, _ := io.ReadAll(m.Body)
	s.mb.mu.Lock()
	s.mb.msgs, s.mb.body = append(s.mb.msgs, m), append(s.mb.body, string(b))
	s.mb.mu.Unlock()
	return nil
}

func startMailbox(t *testing.T) *mailbox {
	mb := &mailbox{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return mailSession{mb}, nil }))
	srv.Domain = "localhost"
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mb.addr = l.Addr().String()
	go srv.Serve(l) //nolint:errcheck
	t.Cleanup(func() { srv.Close() })
	return mb
}

// With OPENPSP_SMTP_URL set, the buyer's order confirmation leaves through
// that SMTP server, in the buyer's language.
func TestOrderConfirmationThroughSMTP(t *testing.T) {
	mb := startMailbox(t)
	s := startServer(t, serverOpts{env: map[string]string{"OPENPSP_SMTP_URL": "smtp://" + mb.addr + "?starttls=none"}})
	pan, _ := card.ParsePAN("4970100000000055")
	tok, err := s.Vault.TokenizeNow(context.Background(), vault.TokenizeRequest{ShopID: shop.DemoShopID, Mode: shop.ModeTest,
		PAN: pan, Expiry: card.Expiry{Month: 12, Year: 2031}, Origin: "V4"})
	if err != nil {
		t.Fatal(err)
	}
	env := s.v4(t, "Charge/CreatePayment", map[string]any{"amount": 4990, "currency": "EUR", "orderId": "smtp-1",
		"formAction": "SILENT", "paymentMethodToken": tok.Value,
		"customer": map[string]any{"email": "hans@example.com", "billingDetails": map[string]any{"language": "de"}}})
	if answer(env)["orderStatus"] != "PAID" {
		t.Fatalf("payment: %v", env)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		mb.mu.Lock()
		n := len(mb.msgs)
		mb.mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no email reached the SMTP server")
		}
		time.Sleep(50 * time.Millisecond)
	}
	mb.mu.Lock()
	defer mb.mu.Unlock()
	var found bool
	for i, m := range mb.msgs {
		if !strings.Contains(m.Header.Get("To"), "hans@example.com") {
			continue
		}
		found = true
		subject, _ := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
		if !strings.Contains(m.Header.Get("Content-Type"), "multipart/alternative") {
			t.Errorf("not multipart/alternative: %s", m.Header.Get("Content-Type"))
		}
		if !strings.Contains(mb.body[i], "49,90") || !strings.Contains(strings.ToLower(subject+mb.body[i]), "bestell") {
			t.Errorf("the confirmation is not in German with the amount: subject %q\n%s", subject, mb.body[i])
		}
	}
	if !found {
		t.Fatalf("no email to the buyer among %d", len(mb.msgs))
	}
}
