package hosted

import (
	"maps"

	"github.com/openpsp/openpsp/internal/langpref"
)

// languages the pages speak (TestMessagesSpeakSpoken); the first is the
// fallback.
var languages = langpref.Spoken

// messages holds every text of the pages per language. Keys are shared with
// the form script (clientKeys) and the templates (.M.key). Strings with %s
// or %d are formatted by the Go code. TestMessagesComplete checks that every
// language has every key and the same verbs.
var messages = map[string]map[string]string{
	"en": {
		"title":               "Secure payment",
		"title_error":         "Error: ", // starts the title of a form sent back with mistakes
		"title_register":      "Card registration",
		"amount":              "Amount",
		"order":               "Order %s",
		"pay":                 "Pay %s",
		"register":            "Register my card",
		"processing":          "Processing…",
		"card_number":         "Card number",
		"expiry":              "Expiry date (MM/YY)",
		"csc":                 "Security code",
		"csc_hint":            "3 digits on the back of the card, 4 on the front for American Express.",
		"csc_hint_back":       "3 digits on the back of the card.",
		"csc_hint_front":      "4 digits on the front of the card.",
		"holder":              "Cardholder name (optional)",
		"save_card":           "Save my card for future purchases",
		"test_mode":           "TEST mode: no real payment is made.",
		"brand_detected":      "Card type: %s",
		"err_pan_required":    "Enter your card number.",
		"err_pan_invalid":     "This card number is not valid. Check it and try again.",
		"err_exp_required":    "Enter the expiry date.",
		"err_exp_invalid":     "Enter the expiry date as MM/YY.",
		"err_exp_past":        "This card has expired.",
		"err_csc_required":    "Enter the security code.",
		"err_csc_invalid":     "The security code must have %d digits.",
		"err_holder_long":     "The name is too long.",
		"form_errors":         "Please correct the highlighted fields.",
		"refused":             "Your payment was refused. Try another card or contact your bank.",
		"insufficient_funds":  "Your payment was refused: insufficient funds or card limit reached.",
		"expired_card":        "Your payment was refused: the card has expired.",
		"threeds_failed":      "Your bank could not authenticate you (3-D Secure). The payment was not made.",
		"technical_error":     "A technical error occurred. Your card was not charged. Please try again.",
		"card_not_supported":  "This card type is not accepted by the shop. Try another card.",
		"attempts_left_one":   "You have 1 attempt left.",
		"attempts_left_many":  "You have %d attempts left.",
		"no_attempts":         "The maximum number of attempts has been reached. The payment was not made.",
		"accepted":            "Payment accepted. Thank you!",
		"registered":          "Your card has been registered. Thank you!",
		"redirecting":         "Taking you back to the shop…",
		"return_to_shop":      "Return to the shop",
		"form_not_found":      "This payment link is not valid. Please return to the shop and start again.",
		"page_not_found":      "No page exists at this address: check it or return to the shop.",
		"cross_site":          "For your security, this form can only be sent from the payment page. Return to the shop and try again.",
		"method_not_allowed":  "This page cannot be opened this way: return to the shop and try again.",
		"invalid_request":     "The form could not be read. Please return to the shop and try again.",
		"form_expired":        "This payment session has expired. Please return to the shop and start again.",
		"form_completed":      "This payment has already been processed.",
		"in_progress":         "A payment of this order is already being processed or has been made. Please do not pay again: the shop will confirm the result to you.",
		"pending":             "Your payment is being processed. Please do not pay again: the shop will confirm the result to you.",
		"check_again":         "Check again",
		"invalid_return_url":  "The shop's return address is not valid. Please contact the shop.",
		"invalid_public_key":  "The payment form is not configured correctly (public key). Please contact the shop.",
		"invalid_origin":      "The payment form is not configured correctly (origin). Please contact the shop.",
		"challenge_title":     "3-D Secure authentication",
		"challenge_intro":     "This is a simulated bank page: no bank is contacted. Choose the outcome of the authentication.",
		"challenge_expired":   "The authentication session has expired. Please enter your card again.",
		"merchant":            "Shop",
		"card":                "Card",
		"approve":             "Approve",
		"fail":                "Fail",
		"close":               "Close",
		"pay_short":           "Pay",
		"payment_form":        "Payment form",
		"card_ending":         "ending in %s",
		"challenge_not_avail": "3-D Secure authentication is not available. Your card was not charged.",
	},
	"fr": {
		"title":               "Paiement sécurisé",
		"title_error":         "Erreur\u00a0: ", // starts the title of a form sent back with mistakes
		"title_register":      "Enregistrement de la carte",
		"amount":              "Montant",
		"order":               "Commande %s",
		"pay":                 "Payer %s",
		"register":            "Enregistrer ma carte",
		"processing":          "Traitement en cours…",
		"card_number":         "Numéro de carte",
		"expiry":              "Date d’expiration (MM/AA)",
		"csc":                 "Cryptogramme visuel",
		"csc_hint":            "3 chiffres au dos de la carte, 4 au recto pour American Express.",
		"csc_hint_back":       "3 chiffres au dos de la carte.",
		"csc_hint_front":      "4 chiffres au recto de la carte.",
		"holder":              "Nom du titulaire (facultatif)",
		"save_card":           "Enregistrer ma carte pour mes prochains achats",
		"test_mode":           "Mode TEST\u00a0: aucun paiement réel n’est effectué.",
		"brand_detected":      "Type de carte\u00a0: %s",
		"err_pan_required":    "Saisissez votre numéro de carte.",
		"err_pan_invalid":     "Ce numéro de carte n’est pas valide. Vérifiez-le et réessayez.",
		"err_exp_required":    "Saisissez la date d’expiration.",
		"err_exp_invalid":     "Saisissez la date d’expiration au format MM/AA.",
		"err_exp_past":        "Cette carte a expiré.",
		"err_csc_required":    "Saisissez le cryptogramme visuel.",
		"err_csc_invalid":     "Le cryptogramme visuel doit comporter %d chiffres.",
		"err_holder_long":     "Le nom est trop long.",
		"form_errors":         "Veuillez corriger les champs signalés.",
		"refused":             "Votre paiement a été refusé. Essayez une autre carte ou contactez votre banque.",
		"insufficient_funds":  "Votre paiement a été refusé\u00a0: provision insuffisante ou plafond atteint.",
		"expired_card":        "Votre paiement a été refusé\u00a0: la carte a expiré.",
		"threeds_failed":      "Votre banque n’a pas pu vous authentifier (3-D Secure). Le paiement n’a pas été effectué.",
		"technical_error":     "Une erreur technique est survenue. Votre carte n’a pas été débitée. Veuillez réessayer.",
		"card_not_supported":  "Ce type de carte n’est pas accepté par la boutique. Essayez une autre carte.",
		"attempts_left_one":   "Il vous reste 1 tentative.",
		"attempts_left_many":  "Il vous reste %d tentatives.",
		"no_attempts":         "Le nombre maximal de tentatives est atteint. Le paiement n’a pas été effectué.",
		"accepted":            "Paiement accepté. Merci\u00a0!",
		"registered":          "Votre carte a été enregistrée. Merci\u00a0!",
		"redirecting":         "Retour vers la boutique…",
		"return_to_shop":      "Retourner à la boutique",
		"form_not_found":      "Ce lien de paiement n’est pas valide. Retournez sur la boutique pour recommencer.",
		"page_not_found":      "Aucune page n’existe à cette adresse\u00a0: vérifiez-la ou retournez sur la boutique.",
		"cross_site":          "Pour votre sécurité, ce formulaire ne peut être envoyé que depuis la page de paiement. Retournez sur la boutique et réessayez.",
		"method_not_allowed":  "Cette page ne s’ouvre pas de cette façon\u00a0: retournez sur la boutique et réessayez.",
		"invalid_request":     "Le formulaire n’a pas pu être lu. Veuillez revenir à la boutique et réessayer.",
		"form_expired":        "Cette session de paiement a expiré. Retournez sur la boutique pour recommencer.",
		"form_completed":      "Ce paiement a déjà été traité.",
		"in_progress":         "Un paiement de cette commande est déjà en cours de traitement ou a déjà été effectué. Ne payez pas une seconde fois\u00a0: la boutique vous confirmera le résultat.",
		"pending":             "Votre paiement est en cours de traitement. Ne payez pas une seconde fois\u00a0: la boutique vous confirmera le résultat.",
		"check_again":         "Vérifier à nouveau",
		"invalid_return_url":  "L’adresse de retour de la boutique n’est pas valide. Contactez la boutique.",
		"invalid_public_key":  "Le formulaire de paiement est mal configuré (clé publique). Contactez la boutique.",
		"invalid_origin":      "Le formulaire de paiement est mal configuré (origine). Contactez la boutique.",
		"challenge_title":     "Authentification 3-D Secure",
		"challenge_intro":     "Ceci est une page bancaire simulée\u00a0: aucune banque n’est contactée. Choisissez le résultat de l’authentification.",
		"challenge_expired":   "La session d’authentification a expiré. Saisissez à nouveau votre carte.",
		"merchant":            "Boutique",
		"card":                "Carte",
		"approve":             "Valider",
		"fail":                "Échouer",
		"close":               "Fermer",
		"pay_short":           "Payer",
		"payment_form":        "Formulaire de paiement",
		"card_ending":         "se terminant par %s",
		"challenge_not_avail": "L’authentification 3-D Secure n’est pas disponible. Votre carte n’a pas été débitée.",
	},
	"es": {
		"title":               "Pago seguro",
		"title_error":         "Error: ", // starts the title of a form sent back with mistakes
		"title_register":      "Registro de la tarjeta",
		"amount":              "Importe",
		"order":               "Pedido %s",
		"pay":                 "Pagar %s",
		"register":            "Registrar mi tarjeta",
		"processing":          "Procesando…",
		"card_number":         "Número de tarjeta",
		"expiry":              "Fecha de caducidad (MM/AA)",
		"csc":                 "Código de seguridad",
		"csc_hint":            "3 cifras en el reverso de la tarjeta, 4 en el anverso para American Express.",
		"csc_hint_back":       "3 cifras en el reverso de la tarjeta.",
		"csc_hint_front":      "4 cifras en el anverso de la tarjeta.",
		"holder":              "Nombre del titular (opcional)",
		"save_card":           "Guardar mi tarjeta para futuras compras",
		"test_mode":           "Modo TEST: no se realiza ningún pago real.",
		"brand_detected":      "Tipo de tarjeta: %s",
		"err_pan_required":    "Introduzca el número de su tarjeta.",
		"err_pan_invalid":     "Este número de tarjeta no es válido. Compruébelo e inténtelo de nuevo.",
		"err_exp_required":    "Introduzca la fecha de caducidad.",
		"err_exp_invalid":     "Introduzca la fecha de caducidad con el formato MM/AA.",
		"err_exp_past":        "Esta tarjeta ha caducado.",
		"err_csc_required":    "Introduzca el código de seguridad.",
		"err_csc_invalid":     "El código de seguridad debe tener %d cifras.",
		"err_holder_long":     "El nombre es demasiado largo.",
		"form_errors":         "Corrija los campos señalados.",
		"refused":             "Su pago ha sido rechazado. Pruebe con otra tarjeta o póngase en contacto con su banco.",
		"insufficient_funds":  "Su pago ha sido rechazado: fondos insuficientes o límite alcanzado.",
		"expired_card":        "Su pago ha sido rechazado: la tarjeta ha caducado.",
		"threeds_failed":      "Su banco no ha podido autenticarle (3-D Secure). El pago no se ha realizado.",
		"technical_error":     "Se ha producido un error técnico. No se ha cargado nada en su tarjeta. Inténtelo de nuevo.",
		"card_not_supported":  "La tienda no acepta este tipo de tarjeta. Pruebe con otra tarjeta.",
		"attempts_left_one":   "Le queda 1 intento.",
		"attempts_left_many":  "Le quedan %d intentos.",
		"no_attempts":         "Se ha alcanzado el número máximo de intentos. El pago no se ha realizado.",
		"accepted":            "Pago aceptado. ¡Gracias!",
		"registered":          "Su tarjeta ha sido registrada. ¡Gracias!",
		"redirecting":         "Volviendo a la tienda…",
		"return_to_shop":      "Volver a la tienda",
		"form_not_found":      "Este enlace de pago no es válido. Vuelva a la tienda y empiece de nuevo.",
		"page_not_found":      "No existe ninguna página en esta dirección: compruébela o vuelva a la tienda.",
		"cross_site":          "Por su seguridad, este formulario solo puede enviarse desde la página de pago. Vuelva a la tienda e inténtelo de nuevo.",
		"method_not_allowed":  "Esta página no se puede abrir de esta forma: vuelva a la tienda e inténtelo de nuevo.",
		"invalid_request":     "No se ha podido leer el formulario. Vuelva a la tienda e inténtelo de nuevo.",
		"form_expired":        "Esta sesión de pago ha caducado. Vuelva a la tienda y empiece de nuevo.",
		"form_completed":      "Este pago ya ha sido procesado.",
		"in_progress":         "Ya se está procesando o ya se ha realizado un pago de este pedido. No vuelva a pagar: la tienda le confirmará el resultado.",
		"pending":             "Su pago se está procesando. No vuelva a pagar: la tienda le confirmará el resultado.",
		"check_again":         "Comprobar de nuevo",
		"invalid_return_url":  "La dirección de retorno de la tienda no es válida. Póngase en contacto con la tienda.",
		"invalid_public_key":  "El formulario de pago no está bien configurado (clave pública). Póngase en contacto con la tienda.",
		"invalid_origin":      "El formulario de pago no está bien configurado (origen). Póngase en contacto con la tienda.",
		"challenge_title":     "Autenticación 3-D Secure",
		"challenge_intro":     "Esta es una página bancaria simulada: no se contacta con ningún banco. Elija el resultado de la autenticación.",
		"challenge_expired":   "La sesión de autenticación ha caducado. Introduzca de nuevo su tarjeta.",
		"merchant":            "Tienda",
		"card":                "Tarjeta",
		"approve":             "Aprobar",
		"fail":                "Fallar",
		"close":               "Cerrar",
		"pay_short":           "Pagar",
		"payment_form":        "Formulario de pago",
		"card_ending":         "terminada en %s",
		"challenge_not_avail": "La autenticación 3-D Secure no está disponible. No se ha cargado nada en su tarjeta.",
	},
	"it": {
		"title":               "Pagamento sicuro",
		"title_error":         "Errore: ", // starts the title of a form sent back with mistakes
		"title_register":      "Registrazione della carta",
		"amount":              "Importo",
		"order":               "Ordine %s",
		"pay":                 "Paga %s",
		"register":            "Registra la mia carta",
		"processing":          "Elaborazione in corso…",
		"card_number":         "Numero della carta",
		"expiry":              "Data di scadenza (MM/AA)",
		"csc":                 "Codice di sicurezza",
		"csc_hint":            "3 cifre sul retro della carta, 4 sul fronte per American Express.",
		"csc_hint_back":       "3 cifre sul retro della carta.",
		"csc_hint_front":      "4 cifre sul fronte della carta.",
		"holder":              "Nome del titolare (facoltativo)",
		"save_card":           "Salva la mia carta per i prossimi acquisti",
		"test_mode":           "Modalità TEST: non viene effettuato alcun pagamento reale.",
		"brand_detected":      "Tipo di carta: %s",
		"err_pan_required":    "Inserisca il numero della carta.",
		"err_pan_invalid":     "Questo numero di carta non è valido. Lo controlli e riprovi.",
		"err_exp_required":    "Inserisca la data di scadenza.",
		"err_exp_invalid":     "Inserisca la data di scadenza nel formato MM/AA.",
		"err_exp_past":        "Questa carta è scaduta.",
		"err_csc_required":    "Inserisca il codice di sicurezza.",
		"err_csc_invalid":     "Il codice di sicurezza deve avere %d cifre.",
		"err_holder_long":     "Il nome è troppo lungo.",
		"form_errors":         "Corregga i campi evidenziati.",
		"refused":             "Il pagamento è stato rifiutato. Provi un’altra carta o contatti la Sua banca.",
		"insufficient_funds":  "Il pagamento è stato rifiutato: fondi insufficienti o limite raggiunto.",
		"expired_card":        "Il pagamento è stato rifiutato: la carta è scaduta.",
		"threeds_failed":      "La Sua banca non ha potuto autenticarLa (3-D Secure). Il pagamento non è stato effettuato.",
		"technical_error":     "Si è verificato un errore tecnico. Non è stato addebitato nulla sulla carta. Riprovi.",
		"card_not_supported":  "Questo tipo di carta non è accettato dal negozio. Provi un’altra carta.",
		"attempts_left_one":   "Le resta 1 tentativo.",
		"attempts_left_many":  "Le restano %d tentativi.",
		"no_attempts":         "È stato raggiunto il numero massimo di tentativi. Il pagamento non è stato effettuato.",
		"accepted":            "Pagamento accettato. Grazie!",
		"registered":          "La Sua carta è stata registrata. Grazie!",
		"redirecting":         "Ritorno al negozio…",
		"return_to_shop":      "Torna al negozio",
		"form_not_found":      "Questo link di pagamento non è valido. Torni al negozio e ricominci.",
		"page_not_found":      "Non esiste alcuna pagina a questo indirizzo: lo controlli o torni al negozio.",
		"cross_site":          "Per la Sua sicurezza, questo modulo può essere inviato solo dalla pagina di pagamento. Torni al negozio e riprovi.",
		"method_not_allowed":  "Questa pagina non può essere aperta in questo modo: torni al negozio e riprovi.",
		"invalid_request":     "Non è stato possibile leggere il modulo. Torni al negozio e riprovi.",
		"form_expired":        "Questa sessione di pagamento è scaduta. Torni al negozio e ricominci.",
		"form_completed":      "Questo pagamento è già stato elaborato.",
		"in_progress":         "Un pagamento di questo ordine è già in corso di elaborazione o è già stato effettuato. Non paghi di nuovo: il negozio Le confermerà l’esito.",
		"pending":             "Il pagamento è in corso di elaborazione. Non paghi di nuovo: il negozio Le confermerà l’esito.",
		"check_again":         "Verifica di nuovo",
		"invalid_return_url":  "L’indirizzo di ritorno del negozio non è valido. Contatti il negozio.",
		"invalid_public_key":  "Il modulo di pagamento non è configurato correttamente (chiave pubblica). Contatti il negozio.",
		"invalid_origin":      "Il modulo di pagamento non è configurato correttamente (origine). Contatti il negozio.",
		"challenge_title":     "Autenticazione 3-D Secure",
		"challenge_intro":     "Questa è una pagina bancaria simulata: nessuna banca viene contattata. Scelga l’esito dell’autenticazione.",
		"challenge_expired":   "La sessione di autenticazione è scaduta. Inserisca di nuovo la carta.",
		"merchant":            "Negozio",
		"card":                "Carta",
		"approve":             "Approva",
		"fail":                "Fallisci",
		"close":               "Chiudi",
		"pay_short":           "Paga",
		"payment_form":        "Modulo di pagamento",
		"card_ending":         "che termina con %s",
		"challenge_not_avail": "L’autenticazione 3-D Secure non è disponibile. Non è stato addebitato nulla sulla carta.",
	},
	"de": {
		"title":               "Sichere Zahlung",
		"title_error":         "Fehler: ", // starts the title of a form sent back with mistakes
		"title_register":      "Kartenregistrierung",
		"amount":              "Betrag",
		"order":               "Bestellung %s",
		"pay":                 "%s bezahlen",
		"register":            "Meine Karte registrieren",
		"processing":          "Wird verarbeitet…",
		"card_number":         "Kartennummer",
		"expiry":              "Ablaufdatum (MM/JJ)",
		"csc":                 "Sicherheitscode",
		"csc_hint":            "3 Ziffern auf der Rückseite der Karte, 4 auf der Vorderseite bei American Express.",
		"csc_hint_back":       "3 Ziffern auf der Rückseite der Karte.",
		"csc_hint_front":      "4 Ziffern auf der Vorderseite der Karte.",
		"holder":              "Name des Karteninhabers (optional)",
		"save_card":           "Meine Karte für künftige Einkäufe speichern",
		"test_mode":           "TEST-Modus: Es findet keine echte Zahlung statt.",
		"brand_detected":      "Kartentyp: %s",
		"err_pan_required":    "Geben Sie Ihre Kartennummer ein.",
		"err_pan_invalid":     "Diese Kartennummer ist ungültig. Bitte prüfen Sie sie.",
		"err_exp_required":    "Geben Sie das Ablaufdatum ein.",
		"err_exp_invalid":     "Geben Sie das Ablaufdatum im Format MM/JJ ein.",
		"err_exp_past":        "Diese Karte ist abgelaufen.",
		"err_csc_required":    "Geben Sie den Sicherheitscode ein.",
		"err_csc_invalid":     "Der Sicherheitscode muss %d Ziffern haben.",
		"err_holder_long":     "Der Name ist zu lang.",
		"form_errors":         "Bitte korrigieren Sie die markierten Felder.",
		"refused":             "Ihre Zahlung wurde abgelehnt. Versuchen Sie eine andere Karte oder wenden Sie sich an Ihre Bank.",
		"insufficient_funds":  "Ihre Zahlung wurde abgelehnt: unzureichende Deckung oder Limit erreicht.",
		"expired_card":        "Ihre Zahlung wurde abgelehnt: Die Karte ist abgelaufen.",
		"threeds_failed":      "Ihre Bank konnte Sie nicht authentifizieren (3-D Secure). Die Zahlung wurde nicht ausgeführt.",
		"technical_error":     "Ein technischer Fehler ist aufgetreten. Ihre Karte wurde nicht belastet. Bitte versuchen Sie es erneut.",
		"card_not_supported":  "Dieser Kartentyp wird vom Shop nicht akzeptiert. Versuchen Sie eine andere Karte.",
		"attempts_left_one":   "Sie haben noch 1 Versuch.",
		"attempts_left_many":  "Sie haben noch %d Versuche.",
		"no_attempts":         "Die maximale Anzahl an Versuchen ist erreicht. Die Zahlung wurde nicht ausgeführt.",
		"accepted":            "Zahlung akzeptiert. Vielen Dank!",
		"registered":          "Ihre Karte wurde registriert. Vielen Dank!",
		"redirecting":         "Sie werden zum Shop zurückgeleitet…",
		"return_to_shop":      "Zurück zum Shop",
		"form_not_found":      "Dieser Zahlungslink ist ungültig. Bitte kehren Sie zum Shop zurück und beginnen Sie erneut.",
		"page_not_found":      "Unter dieser Adresse gibt es keine Seite: Prüfen Sie sie oder kehren Sie zum Shop zurück.",
		"cross_site":          "Zu Ihrer Sicherheit kann dieses Formular nur von der Zahlungsseite aus gesendet werden. Kehren Sie zum Shop zurück und versuchen Sie es erneut.",
		"method_not_allowed":  "Diese Seite kann so nicht geöffnet werden: Kehren Sie zum Shop zurück und versuchen Sie es erneut.",
		"invalid_request":     "Das Formular konnte nicht gelesen werden. Bitte kehren Sie zum Shop zurück und versuchen Sie es erneut.",
		"form_expired":        "Diese Zahlungssitzung ist abgelaufen. Bitte kehren Sie zum Shop zurück und beginnen Sie erneut.",
		"form_completed":      "Diese Zahlung wurde bereits verarbeitet.",
		"in_progress":         "Eine Zahlung dieser Bestellung wird bereits bearbeitet oder wurde bereits ausgeführt. Bitte zahlen Sie nicht erneut: Der Shop bestätigt Ihnen das Ergebnis.",
		"pending":             "Ihre Zahlung wird bearbeitet. Bitte zahlen Sie nicht erneut: Der Shop bestätigt Ihnen das Ergebnis.",
		"check_again":         "Erneut prüfen",
		"invalid_return_url":  "Die Rücksprungadresse des Shops ist ungültig. Bitte wenden Sie sich an den Shop.",
		"invalid_public_key":  "Das Zahlungsformular ist falsch konfiguriert (öffentlicher Schlüssel). Bitte wenden Sie sich an den Shop.",
		"invalid_origin":      "Das Zahlungsformular ist falsch konfiguriert (Herkunft). Bitte wenden Sie sich an den Shop.",
		"challenge_title":     "3-D-Secure-Authentifizierung",
		"challenge_intro":     "Dies ist eine simulierte Bankseite: Es wird keine Bank kontaktiert. Wählen Sie das Ergebnis der Authentifizierung.",
		"challenge_expired":   "Die Authentifizierungssitzung ist abgelaufen. Bitte geben Sie Ihre Karte erneut ein.",
		"merchant":            "Shop",
		"card":                "Karte",
		"approve":             "Bestätigen",
		"fail":                "Fehlschlagen",
		"close":               "Schließen",
		"pay_short":           "Bezahlen",
		"payment_form":        "Zahlungsformular",
		"card_ending":         "endet auf %s",
		"challenge_not_avail": "Die 3-D-Secure-Authentifizierung ist nicht verfügbar. Ihre Karte wurde nicht belastet.",
	},
}

// clientKeys are the messages the form script needs (inline validation,
// states it shows without a page load).
var clientKeys = []string{
	"processing", "brand_detected", "err_pan_required", "err_pan_invalid",
	"err_exp_required", "err_exp_invalid", "err_exp_past", "err_csc_required",
	"err_csc_invalid", "err_holder_long", "form_errors", MessageUnconfirmed,
	"redirecting", "return_to_shop", "title_error",
}

// popinKeys are the messages the JS client on the merchant page shows
// before the frame has loaded: the pop-in button (no amount yet), the close
// button's label, the dialog's name. serveClient writes them into the
// client, so there is one wording of each.
var popinKeys = []string{"pay_short", "close", "payment_form"}

// resolveLanguage picks the page language: the merchant's kr-language,
// then the buyer language of the payment, then the browser's
// Accept-Language, then English.
func resolveLanguage(explicit, formLanguage, acceptLanguage string) string {
	for _, tag := range []string{explicit, formLanguage} {
		if l, ok := supported(tag); ok {
			return l
		}
	}
	if l, ok := fromAcceptLanguage(acceptLanguage); ok {
		return l
	}
	return languages[0]
}

// PageLanguage is the language the pages choose for a buyer who gives tag
// (a language tag in any of its spellings: fr, fr-FR, fr_FR, FR) and whose
// browser sends acceptLanguage: tag if the pages speak it, else the
// browser's, else English. The demo shop picks its payment form's
// language with it, so that both choose alike.
func PageLanguage(tag, acceptLanguage string) string {
	return resolveLanguage(tag, "", acceptLanguage)
}

// supported returns the base language of a BCP 47 tag ("fr-FR", "fr_CA",
// "FR") if the pages speak it.
func supported(tag string) (string, bool) { return languages.Base(tag) }

// fromAcceptLanguage returns the supported language the browser prefers
// most (langpref: RFC 9110 §12.5.4 weights; ties keep header order).
func fromAcceptLanguage(h string) (string, bool) { return languages.Preferred(h) }

// finalMessages are the wordings of the refusal reasons whose message
// invites another try, for a refusal on the last attempt (finalRefusal):
// no try is left then.
var finalMessages = map[string]map[string]string{
	"en": {
		"refused_final":            "Your payment was refused. Contact your bank if the problem persists.",
		"technical_error_final":    "A technical error occurred. Your card was not charged.",
		"card_not_supported_final": "This card type is not accepted by the shop.",
	},
	"fr": {
		"refused_final":            "Votre paiement a été refusé. Contactez votre banque si le problème persiste.",
		"technical_error_final":    "Une erreur technique est survenue. Votre carte n’a pas été débitée.",
		"card_not_supported_final": "Ce type de carte n’est pas accepté par la boutique.",
	},
	"es": {
		"refused_final":            "Su pago ha sido rechazado. Póngase en contacto con su banco si el problema persiste.",
		"technical_error_final":    "Se ha producido un error técnico. No se ha cargado nada en su tarjeta.",
		"card_not_supported_final": "La tienda no acepta este tipo de tarjeta.",
	},
	"it": {
		"refused_final":            "Il pagamento è stato rifiutato. Contatti la Sua banca se il problema persiste.",
		"technical_error_final":    "Si è verificato un errore tecnico. Non è stato addebitato nulla sulla carta.",
		"card_not_supported_final": "Questo tipo di carta non è accettato dal negozio.",
	},
	"de": {
		"refused_final":            "Ihre Zahlung wurde abgelehnt. Wenden Sie sich an Ihre Bank, wenn das Problem weiterhin besteht.",
		"technical_error_final":    "Ein technischer Fehler ist aufgetreten. Ihre Karte wurde nicht belastet.",
		"card_not_supported_final": "Dieser Kartentyp wird vom Shop nicht akzeptiert.",
	},
}

// deferredMessages tell, after "accepted", that a deferred payment's card
// was only checked and the day (%s) its amount will be debited: the words
// of the buyer's email (notify's pay.ok.deferred).
var deferredMessages = map[string]map[string]string{
	"en": {"accepted_deferred": "Your card was checked; nothing has been debited yet. The amount will be debited on %s."},
	"fr": {"accepted_deferred": "Votre carte a été vérifiée\u00a0; rien n’a encore été débité. Le montant sera débité le %s."},
	"es": {"accepted_deferred": "Su tarjeta ha sido verificada; todavía no se ha cargado nada. El importe se cargará el %s."},
	"it": {"accepted_deferred": "La Sua carta è stata verificata; non è stato ancora addebitato nulla. L’importo sarà addebitato il %s."},
	"de": {"accepted_deferred": "Ihre Karte wurde geprüft; es wurde noch nichts abgebucht. Der Betrag wird am %s abgebucht."},
}

// unavailableMessages tell a buyer that the service cannot take payments
// for a moment (Handler.Unavailable): the page opened, and the card form
// posted, which adds that the card was not charged. They invite a retry in
// a few minutes, not at once as the technical error does.
var unavailableMessages = map[string]map[string]string{
	"en": {MessageUnavailable: "This payment service is temporarily unavailable. Please try again in a few minutes.",
		MessageUnavailableNotCharged: "This payment service is temporarily unavailable. Your card was not charged. Please try again in a few minutes."},
	"fr": {MessageUnavailable: "Ce service de paiement est temporairement indisponible. Veuillez réessayer dans quelques minutes.",
		MessageUnavailableNotCharged: "Ce service de paiement est temporairement indisponible. Votre carte n’a pas été débitée. Veuillez réessayer dans quelques minutes."},
	"es": {MessageUnavailable: "Este servicio de pago no está disponible temporalmente. Inténtelo de nuevo dentro de unos minutos.",
		MessageUnavailableNotCharged: "Este servicio de pago no está disponible temporalmente. No se ha cargado nada en su tarjeta. Inténtelo de nuevo dentro de unos minutos."},
	"it": {MessageUnavailable: "Questo servizio di pagamento è temporaneamente non disponibile. Riprovi tra qualche minuto.",
		MessageUnavailableNotCharged: "Questo servizio di pagamento è temporaneamente non disponibile. Non è stato addebitato nulla sulla carta. Riprovi tra qualche minuto."},
	"de": {MessageUnavailable: "Dieser Zahlungsdienst ist vorübergehend nicht verfügbar. Bitte versuchen Sie es in einigen Minuten erneut.",
		MessageUnavailableNotCharged: "Dieser Zahlungsdienst ist vorübergehend nicht verfügbar. Ihre Karte wurde nicht belastet. Bitte versuchen Sie es in einigen Minuten erneut."},
}

// unconfirmedMessages answer a payment attempt that failed after the
// acquirer was asked (ErrUnconfirmed): the card may have been charged,
// and recovery settles the payment later, the shop's IPN and the buyer's
// email with it. They say so in the words of "pending" (do not pay again,
// the shop confirms the result), during an outage as after another error.
var unconfirmedMessages = map[string]map[string]string{
	"en": {MessageUnconfirmed: "A technical error occurred and your payment could not be confirmed yet. Please do not pay again: the shop will confirm the result to you.",
		MessageUnavailableUnconfirmed: "This payment service is temporarily unavailable and your payment could not be confirmed yet. Please do not pay again: the shop will confirm the result to you."},
	"fr": {MessageUnconfirmed: "Une erreur technique est survenue et votre paiement n’a pas encore pu être confirmé. Ne payez pas une seconde fois\u00a0: la boutique vous confirmera le résultat.",
		MessageUnavailableUnconfirmed: "Ce service de paiement est temporairement indisponible et votre paiement n’a pas encore pu être confirmé. Ne payez pas une seconde fois\u00a0: la boutique vous confirmera le résultat."},
	"es": {MessageUnconfirmed: "Se ha producido un error técnico y su pago aún no se ha podido confirmar. No vuelva a pagar: la tienda le confirmará el resultado.",
		MessageUnavailableUnconfirmed: "Este servicio de pago no está disponible temporalmente y su pago aún no se ha podido confirmar. No vuelva a pagar: la tienda le confirmará el resultado."},
	"it": {MessageUnconfirmed: "Si è verificato un errore tecnico e il pagamento non è ancora stato confermato. Non paghi di nuovo: il negozio Le confermerà l’esito.",
		MessageUnavailableUnconfirmed: "Questo servizio di pagamento è temporaneamente non disponibile e il pagamento non è ancora stato confermato. Non paghi di nuovo: il negozio Le confermerà l’esito."},
	"de": {MessageUnconfirmed: "Ein technischer Fehler ist aufgetreten, und Ihre Zahlung konnte noch nicht bestätigt werden. Bitte zahlen Sie nicht erneut: Der Shop bestätigt Ihnen das Ergebnis.",
		MessageUnavailableUnconfirmed: "Dieser Zahlungsdienst ist vorübergehend nicht verfügbar, und Ihre Zahlung konnte noch nicht bestätigt werden. Bitte zahlen Sie nicht erneut: Der Shop bestätigt Ihnen das Ergebnis."},
}

// headingMessages are the headings of the message pages (messageHeadings).
var headingMessages = map[string]map[string]string{
	"en": {"h_not_found": "Page not found", "h_link_invalid": "Invalid payment link", "h_expired": "Payment session expired",
		"h_completed": "Payment already processed", "h_in_progress": "Payment in progress", "h_not_made": "Payment not made",
		"h_unavailable": "Page unavailable", "h_service_unavailable": "Service temporarily unavailable"},
	"fr": {"h_not_found": "Page introuvable", "h_link_invalid": "Lien de paiement non valide", "h_expired": "Session de paiement expirée",
		"h_completed": "Paiement déjà traité", "h_in_progress": "Paiement en cours", "h_not_made": "Paiement non effectué",
		"h_unavailable": "Page indisponible", "h_service_unavailable": "Service temporairement indisponible"},
	"es": {"h_not_found": "Página no encontrada", "h_link_invalid": "Enlace de pago no válido", "h_expired": "Sesión de pago caducada",
		"h_completed": "Pago ya procesado", "h_in_progress": "Pago en curso", "h_not_made": "Pago no realizado",
		"h_unavailable": "Página no disponible", "h_service_unavailable": "Servicio no disponible temporalmente"},
	"it": {"h_not_found": "Pagina non trovata", "h_link_invalid": "Link di pagamento non valido", "h_expired": "Sessione di pagamento scaduta",
		"h_completed": "Pagamento già elaborato", "h_in_progress": "Pagamento in corso", "h_not_made": "Pagamento non effettuato",
		"h_unavailable": "Pagina non disponibile", "h_service_unavailable": "Servizio temporaneamente non disponibile"},
	"de": {"h_not_found": "Seite nicht gefunden", "h_link_invalid": "Ungültiger Zahlungslink", "h_expired": "Zahlungssitzung abgelaufen",
		"h_completed": "Zahlung bereits verarbeitet", "h_in_progress": "Zahlung wird verarbeitet", "h_not_made": "Zahlung nicht ausgeführt",
		"h_unavailable": "Seite nicht verfügbar", "h_service_unavailable": "Dienst vorübergehend nicht verfügbar"},
}

// addMessages adds a part's messages (per language) to the catalogue.
func addMessages(part map[string]map[string]string) {
	for l, m := range part {
		maps.Copy(messages[l], m)
	}
}

func init() {
	addMessages(finalMessages)
	addMessages(deferredMessages)
	addMessages(headingMessages)
	addMessages(unavailableMessages)
	addMessages(unconfirmedMessages)
}
