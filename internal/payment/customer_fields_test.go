package payment

import (
	"strings"
	"testing"

	"github.com/openpsp/openpsp/internal/errs"
)

// BenchmarkNormalizeCustomer is the customer of a bench payment (an email
// and a reference) checked as Charge/CreatePayment checks it.
func BenchmarkNormalizeCustomer(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		email, ref := "buyer-bench-000001@bench.example", "buyer-bench-000001"
		c := Customer{Email: &email, Reference: &ref}
		if err := c.normalize(); err != nil {
			b.Fatal(err)
		}
	}
}

// A field that fails its check is named in full in the error, whichever
// group it belongs to (the name is joined only for an error).
func TestNormalizeCustomerNamesTheField(t *testing.T) {
	long := func(n int) *string { s := strings.Repeat("a", n); return &s }
	ctl := "a\x07b"
	cases := []struct {
		set  func(c *Customer)
		want string
	}{
		{func(c *Customer) { c.Reference = long(81) }, "customer.reference"},
		{func(c *Customer) { c.BillingDetails.FirstName = long(64) }, "customer.billingDetails.firstName"},
		{func(c *Customer) { c.BillingDetails.ZipCode = &ctl }, "customer.billingDetails.zipCode"},
		{func(c *Customer) { c.ShippingDetails.DeliveryCompanyName = long(128) }, "customer.shippingDetails.deliveryCompanyName"},
		{func(c *Customer) { c.ExtraDetails.BrowserUserAgent = long(513) }, "customer.extraDetails.browserUserAgent"},
		{func(c *Customer) {
			c.ShoppingCart.CartItemInfo = []CartItem{{}, {ProductRef: long(65)}}
		}, "customer.shoppingCart.cartItemInfo[1].productRef"},
	}
	for _, tc := range cases {
		var c Customer
		tc.set(&c)
		err := c.normalize()
		if e, ok := errs.As(err); !ok || e.Field != tc.want || !strings.Contains(e.Detail, "name="+tc.want+",") {
			t.Errorf("error %v, want one naming %s", err, tc.want)
		}
	}
	var c Customer
	c.BillingDetails.City = long(128)
	if err := c.normalize(); err != nil {
		t.Errorf("a city of 128 characters: %v", err)
	}
}
