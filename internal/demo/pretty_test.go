package demo

import "testing"

// The return page and the IPN list show the answer as the platform sent it,
// indented: its fields in their order and its numbers as written (a merchant
// compares them with the documentation and the amounts with their own).
func TestPrettyJSONKeepsOrderAndNumbers(t *testing.T) {
	in := `{"orderStatus":"PAID","orderDetails":{"orderTotalAmount":9007199254740993,"orderId":"o-1"},"amount":-9223372036854775808}`
	want := "{\n  \"orderStatus\": \"PAID\",\n  \"orderDetails\": {\n    \"orderTotalAmount\": 9007199254740993,\n    \"orderId\": \"o-1\"\n  },\n  \"amount\": -9223372036854775808\n}"
	if got := prettyJSON(in); got != want {
		t.Fatalf("prettyJSON:\n%s\nwant\n%s", got, want)
	}
}
