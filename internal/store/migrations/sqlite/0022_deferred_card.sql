-- A deferred debit paid with a card typed on the payment form (not saved
-- by the buyer) keeps that card in the vault until its authorization, sent
-- the day before the capture date: deferred_card_token is the vault token
-- (origin INTERNAL) holding it, '' when there is none or once it is erased.
-- It is written by the write that starts the payment, so no sealed card
-- exists without its transaction.
ALTER TABLE transactions ADD COLUMN deferred_card_token TEXT NOT NULL DEFAULT '';
