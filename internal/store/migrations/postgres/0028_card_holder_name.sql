-- The card holder's name as typed on the payment form (or held by the
-- token that paid), returned as cardDetails.cardHolderName. It sits beside
-- the masked card number only: no full card number is stored in this
-- table, so the name is not cardholder data to encrypt here (PCI DSS
-- protects the name when it is stored with the full PAN). '' for none.
ALTER TABLE transactions ADD COLUMN card_holder_name TEXT NOT NULL DEFAULT '';
