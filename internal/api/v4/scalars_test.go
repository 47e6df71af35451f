package v4_test

import (
	"testing"

	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// Lyra's official WooCommerce plugin (lyra/plugin-woocommerce,
// woo-payzen-payment/includes/subscriptions/
// payzen-wc-subscriptions-subscriptions-handler.php, silent_payment) charges
// a subscription renewal with Charge/CreatePayment SILENT and sends PHP
// integers where the playground documents strings: orderId
// ($order->get_id()), customer.reference ($order->get_user_id()) and the
// metadata values blog_id, parent_order_id and subsc_id. PayZen takes them;
// so must OpenPSP, or every renewal of such a shop fails with INT_902. The
// same plugin's embedded-form CreatePayment (class-wc-gateway-payzenstd.php,
// get_form_token) sends metadata.blog_id as an integer too.
func TestPHPIntegersWhereStringsAreDocumented(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newAPIEnv(t, db)
		tok := e.token("4970100000000055")
		renewal := `{"orderId":1234,"customer":{"email":"jane@example.com","reference":17,
			"billingDetails":{"firstName":"Jane","lastName":"Doe","address":"1 rue de la Paix ","zipCode":"75002",
				"city":"Paris","state":"","phoneNumber":"0600000000","country":"FR","identityCode":"","streetNumber":"",
				"district":"Paris","status":""},
			"shippingDetails":{"firstName":"Jane","lastName":"Doe","address":"","address2":"","zipCode":"","city":"",
				"state":"","country":""}},
			"transactionOptions":{"cardOptions":{"paymentSource":"EC"}},
			"contrib":"WooCommerce_8.x_1.x/6.x/PHP_8.x","amount":1990,"currency":"EUR","formAction":"SILENT",
			"paymentMethodToken":"` + tok + `",
			"metadata":{"order_key":"wc_order_abc","blog_id":1,"wcs_renewal_order":"TRUE","parent_order_id":1200,"subsc_id":1201}}`
		a := e.call("Charge/CreatePayment", renewal)
		txs, _ := a["transactions"].([]any)
		if a["orderStatus"] != "PAID" || len(txs) != 1 || path(a, "orderDetails", "orderId") != "1234" ||
			path(a, "customer", "reference") != "17" {
			t.Fatalf("renewal answer %v", a)
		}
		tx := txs[0].(map[string]any)
		if md, _ := tx["metadata"].(map[string]any); md["blog_id"] != "1" || md["subsc_id"] != "1201" || md["order_key"] != "wc_order_abc" {
			t.Errorf("renewal metadata %v", tx["metadata"])
		}

		form := e.call("Charge/CreatePayment", `{"orderId":"1235","amount":"990","currency":"EUR",
			"customer":{"email":"jane@example.com","reference":"17"},"strongAuthentication":"AUTO",
			"transactionOptions":{"cardOptions":{"paymentSource":"EC","captureDelay":"0","retry":"3"}},
			"metadata":{"order_key":"wc_order_abd","blog_id":1}}`)
		if form["_type"] != "V4/Charge/PaymentForm" {
			t.Fatalf("embedded-form CreatePayment %v", form)
		}

		// The same plugin sends amount as a string ("990", its request
		// fields are strings): an integer field takes a numeric string, as
		// amount always did. PHP's json_encode writes an empty array for
		// empty metadata.
		cart := e.call("Charge/CreatePayment", `{"amount":"990","currency":"EUR","metadata":[],
			"customer":{"shoppingCart":{"shippingAmount":"100","cartItemInfo":[{"productLabel":"Tea","productQty":"2","productAmount":"445"}]}}}`)
		if cart["_type"] != "V4/Charge/PaymentForm" {
			t.Fatalf("CreatePayment with a cart of strings %v", cart)
		}

		// A value that is not a scalar is still the merchant's mistake.
		e.fail("Charge/CreatePayment", `{"amount":990,"currency":"EUR","orderId":{"id":1}}`, "INT_902")
		e.fail("Charge/CreatePayment", `{"amount":990,"currency":"EUR","metadata":{"cart":[1,2]}}`, "INT_902")
		e.fail("Charge/CreatePayment", `{"amount":990,"currency":"EUR","customer":{"shoppingCart":{"shippingAmount":"ten"}}}`, "INT_902")
	})
}
