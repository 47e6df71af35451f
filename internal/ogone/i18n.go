package ogone

import "strings"

// Languages of the FlexCheckout page. LAYOUT.LANGUAGE ("en_GB", "nl_BE",
// "fr_FR" …) picks one by its first two letters; others fall back to English.
var Languages = []string{"en", "fr", "es", "it", "de", "nl"}

// language returns the page language for a LAYOUT.LANGUAGE value.
func language(layout string) string {
	if len(layout) >= 2 {
		l := strings.ToLower(layout[:2])
		if _, ok := messages[l]; ok {
			return l
		}
	}
	return "en"
}

// Message keys.
const (
	msgTitleCard      = "titleCard"
	msgTitleAccount   = "titleAccount"
	msgBrand          = "brand"
	msgCardNumber     = "cardNumber"
	msgHolder         = "holder"
	msgExpiry         = "expiry"
	msgMonth          = "month"
	msgYear           = "year"
	msgCVC            = "cvc"
	msgAccountHolder  = "accountHolder"
	msgIBAN           = "iban"
	msgBIC            = "bic"
	msgStore          = "store"
	msgSubmit         = "submit"
	msgCancel         = "cancel"
	msgGeneric        = "generic"
	msgErrorTitle     = "errorTitle"        // the error page of a card page (or of an unknown request)
	msgErrorTitleAcct = "errorTitleAccount" // the error page of a bank account page
	msgErrorPrefix    = "errorPrefix"       // starts the title of a form sent back with mistakes
	msgErrCardNumber  = "errCardNumber"
	msgErrCardEmpty   = "errCardEmpty"
	msgErrBrand       = "errBrand"
	msgErrExpiry      = "errExpiry"
	msgErrExpired     = "errExpired"
	msgErrHolder      = "errHolder"
	msgErrCVC         = "errCVC"
	msgErrCVCEmpty    = "errCVCEmpty"
	msgErrIBAN        = "errIBAN"
	msgErrIBANEmpty   = "errIBANEmpty"
	msgErrBIC         = "errBIC"
	msgAcceptedBrands = "acceptedBrands" // with its colon: French puts a no-break space before it, the others none
	msgSecure         = "secure"
)

// The generic message is document 004 §3.1.1's, in each language (the
// Spanish one is the document's own wording).
var messages = map[string]map[string]string{
	"en": {
		msgTitleCard: "Card details", msgTitleAccount: "Bank account details", msgBrand: "Card type",
		msgCardNumber: "Card number", msgHolder: "Cardholder name", msgExpiry: "Expiry date", msgMonth: "Month",
		msgYear: "Year", msgCVC: "Security code (CVC)", msgAccountHolder: "Account holder", msgIBAN: "IBAN",
		msgBIC: "BIC", msgStore: "Save these details for my next purchases", msgSubmit: "Confirm", msgCancel: "Cancel",
		msgGeneric:    "An error occurred while processing the request. Please try again later or contact the shop.",
		msgErrorTitle: "Card registration unavailable", msgErrorTitleAcct: "Bank account registration unavailable", msgErrorPrefix: "Error: ",
		msgErrCardNumber: "The card number is not valid.", msgErrCardEmpty: "Please enter the card number.",
		msgErrBrand: "This type of card is not accepted.", msgErrExpiry: "The expiry date is not valid.",
		msgErrExpired: "This card has expired.", msgErrHolder: "Please enter the name shown on the card (at most 50 characters).",
		msgErrCVCEmpty: "Please enter the security code.", msgErrIBANEmpty: "Please enter the IBAN.",
		msgErrCVC: "The security code is not valid.", msgErrIBAN: "The IBAN is not valid.", msgErrBIC: "The BIC is not valid.",
		msgAcceptedBrands: "Accepted cards:", msgSecure: "Your details are sent over a secure connection and are never shared with the shop.",
	},
	"fr": {
		msgTitleCard: "Données de la carte", msgTitleAccount: "Coordonnées bancaires", msgBrand: "Type de carte",
		msgCardNumber: "Numéro de carte", msgHolder: "Nom du titulaire", msgExpiry: "Date d’expiration", msgMonth: "Mois",
		msgYear: "Année", msgCVC: "Cryptogramme visuel (CVC)", msgAccountHolder: "Titulaire du compte", msgIBAN: "IBAN",
		msgBIC: "BIC", msgStore: "Enregistrer ces données pour mes prochains achats", msgSubmit: "Valider", msgCancel: "Annuler",
		msgGeneric:    "Une erreur s’est produite lors du traitement de la demande. Veuillez réessayer plus tard ou contacter la boutique.",
		msgErrorTitle: "Enregistrement de la carte indisponible", msgErrorTitleAcct: "Enregistrement du compte bancaire indisponible", msgErrorPrefix: "Erreur\u00a0: ",
		msgErrCardNumber: "Le numéro de carte n’est pas valide.", msgErrCardEmpty: "Veuillez saisir le numéro de carte.",
		msgErrBrand: "Ce type de carte n’est pas accepté.", msgErrExpiry: "La date d’expiration n’est pas valide.",
		msgErrExpired: "Cette carte est expirée.", msgErrHolder: "Veuillez saisir le nom figurant sur la carte (50 caractères au plus).",
		msgErrCVCEmpty: "Veuillez saisir le cryptogramme visuel.", msgErrIBANEmpty: "Veuillez saisir l’IBAN.",
		msgErrCVC: "Le cryptogramme visuel n’est pas valide.", msgErrIBAN: "L’IBAN n’est pas valide.", msgErrBIC: "Le BIC n’est pas valide.",
		msgAcceptedBrands: "Cartes acceptées\u00a0:", msgSecure: "Vos données sont transmises par une connexion sécurisée et ne sont jamais communiquées à la boutique.",
	},
	"es": {
		msgTitleCard: "Datos de la tarjeta", msgTitleAccount: "Datos de la cuenta bancaria", msgBrand: "Tipo de tarjeta",
		msgCardNumber: "Número de tarjeta", msgHolder: "Nombre del titular", msgExpiry: "Fecha de caducidad", msgMonth: "Mes",
		msgYear: "Año", msgCVC: "Código de seguridad (CVC)", msgAccountHolder: "Titular de la cuenta", msgIBAN: "IBAN",
		msgBIC: "BIC", msgStore: "Guardar estos datos para mis próximas compras", msgSubmit: "Confirmar", msgCancel: "Cancelar",
		msgGeneric:    "Se ha producido un error al procesar la solicitud. Inténtelo de nuevo más tarde o póngase en contacto con la tienda.",
		msgErrorTitle: "Registro de la tarjeta no disponible", msgErrorTitleAcct: "Registro de la cuenta bancaria no disponible", msgErrorPrefix: "Error: ",
		msgErrCardNumber: "El número de tarjeta no es válido.", msgErrCardEmpty: "Introduzca el número de tarjeta.",
		msgErrBrand: "Este tipo de tarjeta no se acepta.", msgErrExpiry: "La fecha de caducidad no es válida.",
		msgErrExpired: "Esta tarjeta ha caducado.", msgErrHolder: "Introduzca el nombre que figura en la tarjeta (50 caracteres como máximo).",
		msgErrCVCEmpty: "Introduzca el código de seguridad.", msgErrIBANEmpty: "Introduzca el IBAN.",
		msgErrCVC: "El código de seguridad no es válido.", msgErrIBAN: "El IBAN no es válido.", msgErrBIC: "El BIC no es válido.",
		msgAcceptedBrands: "Tarjetas aceptadas:", msgSecure: "Sus datos se envían por una conexión segura y nunca se comunican a la tienda.",
	},
	"it": {
		msgTitleCard: "Dati della carta", msgTitleAccount: "Dati del conto bancario", msgBrand: "Tipo di carta",
		msgCardNumber: "Numero della carta", msgHolder: "Nome del titolare", msgExpiry: "Data di scadenza", msgMonth: "Mese",
		msgYear: "Anno", msgCVC: "Codice di sicurezza (CVC)", msgAccountHolder: "Intestatario del conto", msgIBAN: "IBAN",
		msgBIC: "BIC", msgStore: "Salva questi dati per i miei prossimi acquisti", msgSubmit: "Conferma", msgCancel: "Annulla",
		msgGeneric:    "Si è verificato un errore durante l’elaborazione della richiesta. Riprovare più tardi o contattare il negozio.",
		msgErrorTitle: "Registrazione della carta non disponibile", msgErrorTitleAcct: "Registrazione del conto bancario non disponibile", msgErrorPrefix: "Errore: ",
		msgErrCardNumber: "Il numero della carta non è valido.", msgErrCardEmpty: "Inserire il numero della carta.",
		msgErrBrand: "Questo tipo di carta non è accettato.", msgErrExpiry: "La data di scadenza non è valida.",
		msgErrExpired: "Questa carta è scaduta.", msgErrHolder: "Inserire il nome riportato sulla carta (al massimo 50 caratteri).",
		msgErrCVCEmpty: "Inserire il codice di sicurezza.", msgErrIBANEmpty: "Inserire l’IBAN.",
		msgErrCVC: "Il codice di sicurezza non è valido.", msgErrIBAN: "L’IBAN non è valido.", msgErrBIC: "Il BIC non è valido.",
		msgAcceptedBrands: "Carte accettate:", msgSecure: "I dati vengono inviati tramite una connessione sicura e non vengono mai comunicati al negozio.",
	},
	"de": {
		msgTitleCard: "Kartendaten", msgTitleAccount: "Bankverbindung", msgBrand: "Kartentyp",
		msgCardNumber: "Kartennummer", msgHolder: "Name des Karteninhabers", msgExpiry: "Ablaufdatum", msgMonth: "Monat",
		msgYear: "Jahr", msgCVC: "Sicherheitscode (CVC)", msgAccountHolder: "Kontoinhaber", msgIBAN: "IBAN",
		msgBIC: "BIC", msgStore: "Diese Daten für meine nächsten Einkäufe speichern", msgSubmit: "Bestätigen", msgCancel: "Abbrechen",
		msgGeneric:    "Bei der Bearbeitung der Anfrage ist ein Fehler aufgetreten. Bitte versuchen Sie es später erneut oder wenden Sie sich an den Shop.",
		msgErrorTitle: "Kartenregistrierung nicht verfügbar", msgErrorTitleAcct: "Registrierung der Bankverbindung nicht verfügbar", msgErrorPrefix: "Fehler: ",
		msgErrCardNumber: "Die Kartennummer ist ungültig.", msgErrCardEmpty: "Bitte geben Sie die Kartennummer ein.",
		msgErrBrand: "Dieser Kartentyp wird nicht akzeptiert.", msgErrExpiry: "Das Ablaufdatum ist ungültig.",
		msgErrExpired: "Diese Karte ist abgelaufen.", msgErrHolder: "Bitte geben Sie den Namen auf der Karte ein (höchstens 50 Zeichen).",
		msgErrCVCEmpty: "Bitte geben Sie den Sicherheitscode ein.", msgErrIBANEmpty: "Bitte geben Sie die IBAN ein.",
		msgErrCVC: "Der Sicherheitscode ist ungültig.", msgErrIBAN: "Die IBAN ist ungültig.", msgErrBIC: "Die BIC ist ungültig.",
		msgAcceptedBrands: "Akzeptierte Karten:", msgSecure: "Ihre Daten werden über eine sichere Verbindung übertragen und nie an den Shop weitergegeben.",
	},
	"nl": {
		msgTitleCard: "Kaartgegevens", msgTitleAccount: "Bankrekeninggegevens", msgBrand: "Kaarttype",
		msgCardNumber: "Kaartnummer", msgHolder: "Naam van de kaarthouder", msgExpiry: "Vervaldatum", msgMonth: "Maand",
		msgYear: "Jaar", msgCVC: "Beveiligingscode (CVC)", msgAccountHolder: "Rekeninghouder", msgIBAN: "IBAN",
		msgBIC: "BIC", msgStore: "Deze gegevens bewaren voor mijn volgende aankopen", msgSubmit: "Bevestigen", msgCancel: "Annuleren",
		msgGeneric:    "Er is een fout opgetreden bij het verwerken van het verzoek. Probeer het later opnieuw of neem contact op met de handelaar.",
		msgErrorTitle: "Kaartregistratie niet beschikbaar", msgErrorTitleAcct: "Registratie van de bankrekening niet beschikbaar", msgErrorPrefix: "Fout: ",
		msgErrCardNumber: "Het kaartnummer is ongeldig.", msgErrCardEmpty: "Voer het kaartnummer in.",
		msgErrBrand: "Dit kaarttype wordt niet geaccepteerd.", msgErrExpiry: "De vervaldatum is ongeldig.",
		msgErrExpired: "Deze kaart is verlopen.", msgErrHolder: "Voer de naam op de kaart in (maximaal 50 tekens).",
		msgErrCVCEmpty: "Voer de beveiligingscode in.", msgErrIBANEmpty: "Voer de IBAN in.",
		msgErrCVC: "De beveiligingscode is ongeldig.", msgErrIBAN: "De IBAN is ongeldig.", msgErrBIC: "De BIC is ongeldig.",
		msgAcceptedBrands: "Geaccepteerde kaarten:", msgSecure: "Uw gegevens worden via een beveiligde verbinding verzonden en nooit met de handelaar gedeeld.",
	},
}

// T returns the message key in lang (English when missing).
func T(lang, key string) string {
	if m, ok := messages[lang]; ok {
		if s, ok := m[key]; ok {
			return s
		}
	}
	return messages["en"][key]
}

// GenericError returns document 004's generic error message in a language
// ("en", "fr", "es", "it", "de", "nl" or an Ogone locale such as "nl_BE").
func GenericError(lang string) string { return T(language(lang), msgGeneric) }
