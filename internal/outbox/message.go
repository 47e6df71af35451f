// Package outbox is the transactional outbox: a message is written in the
// same transaction as the state change it announces, and delivered later,
// with retries, by a dispatcher. Nothing is lost when a process dies between
// the commit and the delivery.
package outbox

import "time"

// Channels a message is delivered through.
const (
	ChannelIPN     = "ipn"     // PayZen V4 IPN: form POST with kr-hash under the REST password
	ChannelWebhook = "webhook" // other webhooks: JSON with a timestamped HMAC signature header
	ChannelEmail   = "email"
	ChannelSMS     = "sms"
	// ChannelOgonePostSale is Ingenico's post-sale request, delivered by
	// the ogone package (ogone.ChannelPostSale): named here, which ogone
	// imports, so that the list of channels is whole in one place.
	ChannelOgonePostSale = "ogone-postsale"
)

// Channels lists every channel, in the order the CLI's help names them:
// `notifications --channel` refuses any other.
var Channels = []string{ChannelIPN, ChannelWebhook, ChannelEmail, ChannelSMS, ChannelOgonePostSale}

// Message is one notification to deliver.
type Message struct {
	ID          string    // UUIDv7; also the event id receivers deduplicate on
	ShopID      string    //
	Channel     string    // one of the Channel constants
	Event       string    // e.g. "payment.accepted", "token.cancelled"
	OrderingKey string    // messages with the same key are delivered in creation order (e.g. a payment id)
	Target      string    // URL, email address or phone number
	Payload     string    // channel-specific body (e.g. the kr-answer JSON for an IPN)
	NotBefore   time.Time // zero: as soon as possible
}
