package ogone

// NCERROR codes OpenPSP answers, from the Ogone error catalogue as public
// integrations carry it (Odoo payment_ogone data/ogone.py, the IngenicoClient
// PHP library). The first digit is the NCSTATUS group: 0 OK, 2 uncertain or
// technical, 3 refused, 4 technical, 5 invalid or missing data.
const (
	ncOK = "0"

	// FlexCheckout: a card or account refused at input (the field codes say
	// which field), the "NOK" sample of compat.md §2.3.
	ncAliasNOK = "55555555"

	ncPaymentRefused       = "30001001" // Payment refused by the acquirer
	ncAcquirerUnavailable  = "40001012" // the acquirer is temporarily unavailable
	ncUncertain            = "20001001" // unknown status, will be checked
	ncTechnical            = "40001011" // a technical problem occurred
	ncUnknownCardType      = "50001001" // Unknown card type
	ncExpiryError          = "50001005" // Expiry date error
	ncAmountNotNumber      = "50001006" // Amount is not a number
	ncBrandNotSupported    = "50001011" // Brand not supported for that merchant
	ncOperationNotAllowed  = "50001046" // Operation not allowed for the merchant
	ncCardNumberIncorrect  = "50001054" // Card number incorrect or incompatible
	ncCVCFormat            = "50001066" // Format of CVC code invalid
	ncInvalidPAN           = "50001068" // The card number or account number is invalid
	ncECI                  = "50001070" // ECI not supported or in conflict
	ncCVCMissing           = "50001090" // CVC missing at input, but CVC check asked
	ncDataValidation       = "50001111" // Data validation error (and SHA mismatch: unknown order/1/s/)
	ncAlreadyProcessed     = "50001113" // This order has already been processed
	ncPSPIDNotFound        = "50001118" // Pspid not found or not correct
	ncPasswordIncorrect    = "50001119" // Password incorrect or disabled
	ncInvalidCurrency      = "50001120" // Invalid currency
	ncInvalidDecimals      = "50001121" // Invalid number of decimals for the currency
	ncCaptureOverflow      = "50001126" // Overflow in data capture requests for the original order
	ncOriginalStatus       = "50001127" // The original order is not in a correct status
	ncRefundOverflow       = "50001129" // Overflow in refunds requests
	ncOriginalOrder        = "50001130" // Error access to original order
	ncBINCheck             = "50001170" // Dynamic BIN check failed
	ncNameTooLong          = "50001174" // Card Holder Name is too long
	ncNameInvalid          = "50001175" // Name contains invalid characters
	ncCardNumberEmpty      = "50001178" // Card Number Empty
	ncExpiryInPast         = "50001183" // Expiration date must be in the future
	ncPayerNameMissing     = "60001057" // payer's name missing (the FlexCheckout NOK sample's NCErrorCN)
	ncAccountNumberFormat  = "60001002" // payer's account number format error
	ncInvalidCardNumberAcq = "30141001" // Invalid card number
)

// ncStatus is the NCSTATUS of an NCERROR: its first digit.
func ncStatus(ncerror string) string {
	if ncerror == "" || ncerror == ncOK {
		return "0"
	}
	return ncerror[:1]
}

// acquirerNCError maps an ISO 8583-style acquirer response code to the
// Ogone refusal code of the same meaning: "30" + code + "1001" is how the
// catalogue numbers them (30051001 declined, 30511001 insufficient funds,
// 30541001 expired card, 30411001 lost card, 30431001 stolen card).
func acquirerNCError(code string) string {
	if len(code) == 2 && isDigit(code[0]) && isDigit(code[1]) && code != "00" {
		return "30" + code + "1001"
	}
	return ncPaymentRefused
}
