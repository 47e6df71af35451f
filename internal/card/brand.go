package card

import (
	"fmt"
	"strings"
	"sync/atomic"
)

// Brand is a card brand, spelled as PayZen spells it in effectiveBrand,
// paymentMethodType restrictions and vads_card_brand. The names come from the
// card type list Lyra ships in its plugins (PayzenApi::getSupportedCardTypes
// in the PayZen Magento 2 / WooCommerce plugins).
type Brand string

// Brands OpenPSP detects from the card number.
const (
	Visa         Brand = "VISA"
	VisaElectron Brand = "VISA_ELECTRON"
	Mastercard   Brand = "MASTERCARD"
	Maestro      Brand = "MAESTRO"
	Amex         Brand = "AMEX"
	CB           Brand = "CB"     // Cartes Bancaires, always co-badged with a network brand
	CONECS       Brand = "CONECS" // Titre-Restaurant cards (the Conecs network), co-badged
	Discover     Brand = "DISCOVER"
	Diners       Brand = "DINERS"
	JCB          Brand = "JCB"
	// UnionPay is "UNION_PAY" in PayZen's list, not "UNIONPAY".
	UnionPay Brand = "UNION_PAY"
)

// Titre-Restaurant issuer brands PayZen also reports. They cannot be told
// apart from the card number here; Family maps them to CONECS.
const (
	Edenred Brand = "EDENRED"
	Sodexo  Brand = "SODEXO"
	Apetiz  Brand = "APETIZ"
	ChqDej  Brand = "CHQ_DEJ"
)

var knownBrands = map[Brand]bool{
	Visa: true, VisaElectron: true, Mastercard: true, Maestro: true, Amex: true, CB: true,
	CONECS: true, Discover: true, Diners: true, JCB: true, UnionPay: true,
	Edenred: true, Sodexo: true, Apetiz: true, ChqDej: true,
}

// ParseBrand returns the Brand named s (exact PayZen spelling), or false.
func ParseBrand(s string) (Brand, bool) {
	b := Brand(s)
	return b, knownBrands[b]
}

// buyerNames are the brands as buyers read them on their cards, where
// that is not the code: the payment page's saved cards and the buyer's
// messages show these.
var buyerNames = map[Brand]string{
	Visa: "Visa", VisaElectron: "Visa Electron", Mastercard: "Mastercard", Maestro: "Maestro",
	Amex: "American Express", Discover: "Discover", Diners: "Diners Club", UnionPay: "UnionPay",
	CONECS: "Titre-Restaurant", Edenred: "Titre-Restaurant", Sodexo: "Titre-Restaurant",
	Apetiz: "Titre-Restaurant", ChqDej: "Titre-Restaurant",
}

// BuyerName returns the brand as a buyer reads it ("Mastercard" for
// MASTERCARD); a code without a name (CB, JCB, one unknown here) reads as
// itself, its underscores as spaces.
func (b Brand) BuyerName() string {
	if n, ok := buyerNames[b]; ok {
		return n
	}
	return strings.ReplaceAll(string(b), "_", " ")
}

// Family returns the brand family: CONECS for the Titre-Restaurant issuer
// brands (EDENRED, SODEXO, APETIZ, CHQ_DEJ), b itself otherwise. A merchant
// who accepts CONECS accepts all of them.
func (b Brand) Family() Brand {
	switch b {
	case Edenred, Sodexo, Apetiz, ChqDej:
		return CONECS
	}
	return b
}

// lengthSet is a bit set of allowed PAN lengths (bit n = n digits).
type lengthSet uint32

func lengths(ns ...int) lengthSet {
	var s lengthSet
	for _, n := range ns {
		s |= 1 << n
	}
	return s
}

func lengthSpan(lo, hi int) lengthSet {
	var s lengthSet
	for n := lo; n <= hi; n++ {
		s |= 1 << n
	}
	return s
}

func (s lengthSet) has(n int) bool { return n >= 0 && n < 32 && s&(1<<n) != 0 }

func (s lengthSet) String() string {
	out := ""
	for n := 0; n < 32; n++ {
		if s.has(n) {
			if out != "" {
				out += "/"
			}
			out += fmt.Sprint(n)
		}
	}
	return out
}

// unknownLengths applies when no network brand matches: ISO/IEC 7812 allows
// 8–19 digits, but nothing OpenPSP can route is shorter than 12.
var unknownLengths = lengthSpan(12, 19)

// iinRange maps the prefixes lo..hi (inclusive, same length, compared as
// strings) to a network brand.
type iinRange struct {
	lo, hi  string
	brand   Brand
	lengths lengthSet
}

// iinTable is the one IIN → network brand table.
//
// Precedence: the longest matching prefix wins, so a specific range carves
// itself out of a wider one (6011 DISCOVER out of 60 MAESTRO, 4026 VISA_ELECTRON
// out of 4 VISA, 644–649 DISCOVER out of 64 MAESTRO). Two ranges of the same
// prefix length never overlap (TestIINTableNoSameLengthOverlap), so the result
// never depends on the order of the rows.
//
// Sources: the IIN table of en.wikipedia.org/wiki/Payment_card_number (ranges
// and lengths per network, Mastercard 2-series since 2017, Visa Electron and
// Maestro UK prefixes); braintree/credit-card-type (Maestro taking the 5x/6x
// ranges left over by the other networks, UnionPay 62 and 81); PayZen's brand
// names above. CB and CONECS are not IIN ranges: see the BIN lists below.
var iinTable = []iinRange{
	{"4", "4", Visa, lengths(13, 16, 19)},
	{"4026", "4026", VisaElectron, lengths(16)},
	{"417500", "417500", VisaElectron, lengths(16)},
	{"4508", "4508", VisaElectron, lengths(16)},
	{"4844", "4844", VisaElectron, lengths(16)},
	{"4913", "4913", VisaElectron, lengths(16)},
	{"4917", "4917", VisaElectron, lengths(16)},

	{"51", "55", Mastercard, lengths(16)},
	{"2221", "2720", Mastercard, lengths(16)},

	{"34", "34", Amex, lengths(15)},
	{"37", "37", Amex, lengths(15)},

	{"300", "305", Diners, lengthSpan(14, 19)},
	{"36", "36", Diners, lengthSpan(14, 19)},
	{"38", "39", Diners, lengthSpan(14, 19)},

	{"3528", "3589", JCB, lengthSpan(16, 19)},

	{"6011", "6011", Discover, lengthSpan(16, 19)},
	{"644", "649", Discover, lengthSpan(16, 19)},
	{"65", "65", Discover, lengthSpan(16, 19)},

	// Discover also processes UnionPay's 622126–622925 in North America;
	// PayZen and European acquirers see those cards as UnionPay.
	{"62", "62", UnionPay, lengthSpan(16, 19)},
	{"81", "81", UnionPay, lengthSpan(16, 19)},

	// Maestro: 50 and 56–69 minus what the rows above own (60 yields 6011,
	// 62 and 65 are other networks' two-digit ranges, 64 yields 644–649).
	{"50", "50", Maestro, lengthSpan(12, 19)},
	{"56", "61", Maestro, lengthSpan(12, 19)},
	{"63", "64", Maestro, lengthSpan(12, 19)},
	{"66", "69", Maestro, lengthSpan(12, 19)},
	// Maestro UK (ex-Switch); inside 66–69 already, listed for the record.
	{"6759", "6759", Maestro, lengthSpan(12, 19)},
	{"676770", "676770", Maestro, lengthSpan(12, 19)},
	{"676774", "676774", Maestro, lengthSpan(12, 19)},
}

// network returns the row of the network brand of digits, or nil.
func network(digits string) *iinRange {
	var best *iinRange
	for i := range iinTable {
		r := &iinTable[i]
		n := len(r.lo)
		if len(digits) < n {
			continue
		}
		p := digits[:n]
		if p < r.lo || p > r.hi {
			continue
		}
		if best == nil || n > len(best.lo) {
			best = r
		}
	}
	return best
}

// binSet is an immutable set of BIN prefixes (4 to 8 digits), replaced as a
// whole on registration so lookups need no lock.
type binSet map[string]struct{}

const minBIN, maxBIN = 4, 8

func (s binSet) match(digits string) bool {
	for n := minBIN; n <= maxBIN && n <= len(digits); n++ {
		if _, ok := s[digits[:n]]; ok {
			return true
		}
	}
	return false
}

func newBinSet(bins ...string) binSet {
	s := make(binSet, len(bins))
	for _, b := range bins {
		s[b] = struct{}{}
	}
	return s
}

func register(set *atomic.Pointer[binSet], what string, bins []string) error {
	for _, b := range bins {
		if len(b) < minBIN || len(b) > maxBIN || !allDigits(b) {
			// A BIN is not card data, but a mistyped full PAN could be: don't echo it.
			return fmt.Errorf("card: %s BIN must be %d to %d digits", what, minBIN, maxBIN)
		}
	}
	for {
		old := set.Load()
		next := make(binSet, len(*old)+len(bins))
		for k := range *old {
			next[k] = struct{}{}
		}
		for _, b := range bins {
			next[b] = struct{}{}
		}
		if set.CompareAndSwap(old, &next) {
			return nil
		}
	}
}

// defaultCBBins are the BINs known to be Cartes Bancaires. CB publishes no BIN
// table (issuers and acquirers get it under contract), so this list holds
// only the PayZen/Lyra test BINs: every PayZen test card starts with 4970, and
// PayZen answers effectiveBrand "CB" for 4970100000000055 (compat.md §1.6,
// §1.10). Operators load the real list with RegisterCBBins.
var defaultCBBins = []string{
	"497010", // PayZen/Lyra test cards 4970100000000055, 4970101000001002, …
	"497011", // PayZen/Lyra test cards
}

// defaultCONECSBins are OpenPSP TEST ranges, chosen by OpenPSP for its own
// tests and demos. They are NOT real issuer data: no Titre-Restaurant BIN list
// is public. Operators load real Conecs BINs with RegisterCONECSBins.
var defaultCONECSBins = []string{
	"497099", // OpenPSP test range: CONECS co-badged VISA
	"555599", // OpenPSP test range: CONECS co-badged MASTERCARD
}

var cbBins, conecsBins atomic.Pointer[binSet]

func init() {
	cb, conecs := newBinSet(defaultCBBins...), newBinSet(defaultCONECSBins...)
	cbBins.Store(&cb)
	conecsBins.Store(&conecs)
}

// RegisterCBBins adds BIN prefixes (4 to 8 digits) of Cartes Bancaires cards,
// the hook for operators who hold the CB BIN table. Cards whose number starts
// with one of them are detected as CB first, then their network brand. Safe
// for concurrent use; on error nothing is registered.
func RegisterCBBins(bins ...string) error { return register(&cbBins, "CB", bins) }

// RegisterCONECSBins adds BIN prefixes (4 to 8 digits) of Titre-Restaurant
// (Conecs) cards; they are detected as CONECS first, then their network
// brand. Safe for concurrent use; on error nothing is registered.
func RegisterCONECSBins(bins ...string) error { return register(&conecsBins, "CONECS", bins) }

// DetectBrands returns the brands of a card number given as digits only
// (a partial number works as far as its prefix allows), most specific first:
// the first element is the effective brand PayZen would report.
//
//   - CONECS first if the BIN is in the Conecs list,
//   - then CB if the BIN is in the CB list,
//   - then the network brand from the IIN table (longest prefix wins).
//
// 4970100000000055 → [CB VISA]. An unknown number, or one holding anything
// but ASCII digits, gives nil.
func DetectBrands(digits string) []Brand {
	if !allDigits(digits) {
		return nil
	}
	var out []Brand
	if (*conecsBins.Load()).match(digits) {
		out = append(out, CONECS)
	}
	if (*cbBins.Load()).match(digits) {
		out = append(out, CB)
	}
	if r := network(digits); r != nil {
		out = append(out, r.brand)
	}
	return out
}

// Brands returns DetectBrands of the number.
func (p PAN) Brands() []Brand { return DetectBrands(p.clear()) }

// Brand returns the effective brand (the first of Brands), or "" if unknown.
func (p PAN) Brand() Brand {
	if b := p.Brands(); len(b) > 0 {
		return b[0]
	}
	return ""
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
