package payment

import (
	"encoding/json"
	"net/mail"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/openpsp/openpsp/internal/errs"
)

// Customer is the buyer as the merchant describes it (V4/Customer/Customer).
// Every field is optional and answers null when absent, as PayZen does.
type Customer struct {
	BillingDetails  BillingDetails  `json:"billingDetails"`
	Email           *string         `json:"email"`
	Reference       *string         `json:"reference"`
	ShippingDetails ShippingDetails `json:"shippingDetails"`
	ExtraDetails    ExtraDetails    `json:"extraDetails"`
	ShoppingCart    ShoppingCart    `json:"shoppingCart"`
	Type            string          `json:"_type"`
}

// BillingDetails is V4/Customer/BillingDetails.
type BillingDetails struct {
	Address         *string `json:"address"`
	Address2        *string `json:"address2"`
	Category        *string `json:"category"`
	CellPhoneNumber *string `json:"cellPhoneNumber"`
	City            *string `json:"city"`
	Country         *string `json:"country"`
	District        *string `json:"district"`
	FirstName       *string `json:"firstName"`
	IdentityCode    *string `json:"identityCode"`
	IdentityType    *string `json:"identityType"`
	Language        *string `json:"language"`
	LastName        *string `json:"lastName"`
	LegalName       *string `json:"legalName"`
	PhoneNumber     *string `json:"phoneNumber"`
	State           *string `json:"state"`
	StreetNumber    *string `json:"streetNumber"`
	Title           *string `json:"title"`
	ZipCode         *string `json:"zipCode"`
	Type            string  `json:"_type"`
}

// ShippingDetails is V4/Customer/ShippingDetails.
type ShippingDetails struct {
	Address             *string `json:"address"`
	Address2            *string `json:"address2"`
	Category            *string `json:"category"`
	City                *string `json:"city"`
	Country             *string `json:"country"`
	DeliveryCompanyName *string `json:"deliveryCompanyName"`
	District            *string `json:"district"`
	FirstName           *string `json:"firstName"`
	IdentityCode        *string `json:"identityCode"`
	LastName            *string `json:"lastName"`
	LegalName           *string `json:"legalName"`
	PhoneNumber         *string `json:"phoneNumber"`
	ShippingMethod      *string `json:"shippingMethod"`
	ShippingSpeed       *string `json:"shippingSpeed"`
	State               *string `json:"state"`
	StreetNumber        *string `json:"streetNumber"`
	ZipCode             *string `json:"zipCode"`
	Type                string  `json:"_type"`
}

// ExtraDetails is V4/Customer/ExtraDetails.
type ExtraDetails struct {
	BrowserAccept    *string `json:"browserAccept"`
	FingerPrintID    *string `json:"fingerPrintId"`
	IPAddress        *string `json:"ipAddress"`
	BrowserUserAgent *string `json:"browserUserAgent"`
	Type             string  `json:"_type"`
}

// ShoppingCart is V4/Customer/ShoppingCart.
type ShoppingCart struct {
	InsuranceAmount *int64     `json:"insuranceAmount"`
	ShippingAmount  *int64     `json:"shippingAmount"`
	TaxAmount       *int64     `json:"taxAmount"`
	CartItemInfo    []CartItem `json:"cartItemInfo"`
	Type            string     `json:"_type"`
}

// CartItem is one line of the shopping cart.
type CartItem struct {
	ProductLabel  *string      `json:"productLabel"`
	ProductType   *string      `json:"productType"`
	ProductRef    *string      `json:"productRef"`
	ProductQty    *int64       `json:"productQty"`
	ProductAmount *int64       `json:"productAmount"`
	ProductVat    *json.Number `json:"productVat"`
	Type          string       `json:"_type"`
}

// withTypes sets the _type of every object, for answers.
func (c Customer) withTypes() Customer {
	c.Type = "V4/Customer/Customer"
	c.BillingDetails.Type = "V4/Customer/BillingDetails"
	c.ShippingDetails.Type = "V4/Customer/ShippingDetails"
	c.ExtraDetails.Type = "V4/Customer/ExtraDetails"
	c.ShoppingCart.Type = "V4/Customer/ShoppingCart"
	if len(c.ShoppingCart.CartItemInfo) > 0 {
		items := make([]CartItem, len(c.ShoppingCart.CartItemInfo))
		for i, it := range c.ShoppingCart.CartItemInfo {
			it.Type = "V4/Customer/CartItemInfo"
			items[i] = it
		}
		c.ShoppingCart.CartItemInfo = items
	}
	return c
}

// Codes for customer fields (compat.md §1.7).
const codeInvalidEmail = "INT_015"

// normalize validates the customer and cleans it for storage: empty strings
// become absent, languages and countries upper case, _type dropped.
func (c *Customer) normalize() error {
	c.Type = ""
	c.BillingDetails.Type, c.ShippingDetails.Type, c.ExtraDetails.Type, c.ShoppingCart.Type = "", "", "", ""
	for i := range c.ShoppingCart.CartItemInfo {
		c.ShoppingCart.CartItemInfo[i].Type = ""
	}
	if err := text(&c.Email, "customer.", "email", 150); err != nil {
		return err
	}
	if c.Email != nil {
		a, err := mail.ParseAddress(*c.Email)
		if err != nil || a.Address != *c.Email || !strings.Contains(a.Address, ".") {
			return errs.Invalid(codeInvalidEmail, "invalid customer email", "customer.email", *c.Email)
		}
	}
	if err := text(&c.Reference, "customer.", "reference", 80); err != nil {
		return err
	}
	b := &c.BillingDetails
	for _, f := range []struct {
		p    **string
		name string
		max  int
	}{
		{&b.Address, "address", 255}, {&b.Address2, "address2", 255}, {&b.Category, "category", 32},
		{&b.CellPhoneNumber, "cellPhoneNumber", 32}, {&b.City, "city", 128}, {&b.Country, "country", 2},
		{&b.District, "district", 128}, {&b.FirstName, "firstName", 63}, {&b.IdentityCode, "identityCode", 255},
		{&b.IdentityType, "identityType", 32}, {&b.Language, "language", 8}, {&b.LastName, "lastName", 63},
		{&b.LegalName, "legalName", 100}, {&b.PhoneNumber, "phoneNumber", 32}, {&b.State, "state", 128},
		{&b.StreetNumber, "streetNumber", 64}, {&b.Title, "title", 63}, {&b.ZipCode, "zipCode", 64},
	} {
		if err := text(f.p, "customer.billingDetails.", f.name, f.max); err != nil {
			return err
		}
	}
	if err := country(b.Country, "customer.billingDetails.country"); err != nil {
		return err
	}
	if b.Language != nil {
		l := strings.ToUpper(*b.Language)
		b.Language = &l
	}
	s := &c.ShippingDetails
	for _, f := range []struct {
		p    **string
		name string
		max  int
	}{
		{&s.Address, "address", 255}, {&s.Address2, "address2", 255}, {&s.Category, "category", 32},
		{&s.City, "city", 128}, {&s.Country, "country", 2}, {&s.DeliveryCompanyName, "deliveryCompanyName", 127},
		{&s.District, "district", 128}, {&s.FirstName, "firstName", 63}, {&s.IdentityCode, "identityCode", 255},
		{&s.LastName, "lastName", 63}, {&s.LegalName, "legalName", 100}, {&s.PhoneNumber, "phoneNumber", 32},
		{&s.ShippingMethod, "shippingMethod", 32}, {&s.ShippingSpeed, "shippingSpeed", 32},
		{&s.State, "state", 128}, {&s.StreetNumber, "streetNumber", 64}, {&s.ZipCode, "zipCode", 64},
	} {
		if err := text(f.p, "customer.shippingDetails.", f.name, f.max); err != nil {
			return err
		}
	}
	if err := country(s.Country, "customer.shippingDetails.country"); err != nil {
		return err
	}
	e := &c.ExtraDetails
	for _, f := range []struct {
		p    **string
		name string
		max  int
	}{
		{&e.BrowserAccept, "browserAccept", 255}, {&e.FingerPrintID, "fingerPrintId", 128},
		{&e.IPAddress, "ipAddress", 64}, {&e.BrowserUserAgent, "browserUserAgent", 512},
	} {
		if err := text(f.p, "customer.extraDetails.", f.name, f.max); err != nil {
			return err
		}
	}
	sc := &c.ShoppingCart
	for _, f := range []struct {
		p    *int64
		name string
	}{{sc.InsuranceAmount, "insuranceAmount"}, {sc.ShippingAmount, "shippingAmount"}, {sc.TaxAmount, "taxAmount"}} {
		if f.p != nil && *f.p < 0 {
			return errs.Invalid(errs.InputInvalid, "web-service input data validation error", "customer.shoppingCart."+f.name, *f.p)
		}
	}
	if len(sc.CartItemInfo) > 1000 {
		return errs.Invalid(errs.InputInvalid, "web-service input data validation error", "customer.shoppingCart.cartItemInfo", len(sc.CartItemInfo))
	}
	for i := range sc.CartItemInfo {
		it := &sc.CartItemInfo[i]
		prefix := "customer.shoppingCart.cartItemInfo[" + strconv.Itoa(i) + "]."
		for _, f := range []struct {
			p    **string
			name string
			max  int
		}{{&it.ProductLabel, "productLabel", 255}, {&it.ProductType, "productType", 64}, {&it.ProductRef, "productRef", 64}} {
			if err := text(f.p, prefix, f.name, f.max); err != nil {
				return err
			}
		}
		if it.ProductQty != nil && *it.ProductQty < 0 {
			return errs.Invalid(errs.InputInvalid, "web-service input data validation error", prefix+"productQty", *it.ProductQty)
		}
		if it.ProductAmount != nil && *it.ProductAmount < 0 {
			return errs.Invalid(errs.InputInvalid, "web-service input data validation error", prefix+"productAmount", *it.ProductAmount)
		}
	}
	return nil
}

// text trims the string field prefix+name, drops it when empty and checks
// its length and that it holds no control characters. The field's name is
// joined only for an error: every request checks some forty fields.
func text(p **string, prefix, name string, max int) error {
	if *p == nil {
		return nil
	}
	s := strings.TrimSpace(**p)
	if s == "" {
		*p = nil
		return nil
	}
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > max || strings.ContainsFunc(s, isControl) {
		return errs.Invalid(errs.InputInvalid, "web-service input data validation error", prefix+name, clip(s))
	}
	*p = &s
	return nil
}

func country(p *string, field string) error {
	if p == nil {
		return nil
	}
	c := strings.ToUpper(*p)
	if len(c) != 2 || c[0] < 'A' || c[0] > 'Z' || c[1] < 'A' || c[1] > 'Z' {
		return errs.Invalid(errs.InputInvalid, "web-service input data validation error", field, *p)
	}
	*p = c
	return nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

func clip(s string) string {
	if utf8.RuneCountInString(s) > 40 {
		return string([]rune(s)[:40]) + "…"
	}
	return s
}

// buyerBrowser is what the hosted pages know of the buyer's browser: its
// address and the language of the page the buyer paid on.
type buyerBrowser struct{ ip, language string }

// recordBuyer records the buyer's browser b in c where the merchant sent
// nothing (recordBuyerIP, recordBuyerLanguage). It reports whether it
// changed c.
func recordBuyer(c *Customer, b buyerBrowser) bool {
	ip := recordBuyerIP(c, b.ip)
	lang := recordBuyerLanguage(c, b.language)
	return ip || lang
}

// recordBuyerLanguage puts the language of the hosted page the buyer paid on
// in customer.billingDetails.language when the merchant sent none, as Lyra's
// answers carry the form's language there: the buyer's confirmation then
// comes in the language the buyer paid in, not the shop's. The merchant's
// own value is kept. It reports whether it changed c.
func recordBuyerLanguage(c *Customer, lang string) bool {
	if lang == "" || c.BillingDetails.Language != nil {
		return false
	}
	l := strings.ToUpper(lang)
	p := &l
	if text(&p, "customer.billingDetails.", "language", 8) != nil || p == nil {
		return false
	}
	c.BillingDetails.Language = p
	return true
}

// recordBuyerIP puts the address the buyer paid from on the hosted pages in
// customer.extraDetails.ipAddress when the merchant sent none, as Lyra's
// answers carry the buyer's address; the merchant's own value is kept. It
// reports whether it changed c.
func recordBuyerIP(c *Customer, ip string) bool {
	if ip == "" || c.ExtraDetails.IPAddress != nil {
		return false
	}
	// The limits of a merchant's value (normalize); clientip gives
	// addresses, so this only guards against a caller's mistake.
	p := &ip
	if text(&p, "customer.extraDetails.", "ipAddress", 64) != nil || p == nil {
		return false
	}
	c.ExtraDetails.IPAddress = p
	return true
}
