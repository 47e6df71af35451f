-- What a PAID instalment collected: its debit's amount, which the merchant
-- may lower before the capture (Transaction/Update, a partial
-- Transaction/CancelOrRefund). The instalment's amount is what was due;
-- the subscription's paid total sums this. Instalments paid before this
-- column take their debit's amount as it is now.
ALTER TABLE subscription_instalments ADD COLUMN paid_amount BIGINT NOT NULL DEFAULT 0;
UPDATE subscription_instalments SET paid_amount = COALESCE((SELECT t.amount FROM transactions t
	WHERE t.uuid = subscription_instalments.transaction_uuid), amount) WHERE status = 'PAID';
