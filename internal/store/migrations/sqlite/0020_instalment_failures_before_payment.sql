-- A technical failure before any payment was made for an instalment (the
-- shop or the subscription could not be read) released its claim without
-- counting anywhere: attempts counts payments, so such an instalment was
-- retried every hour forever. failures_before_payment counts them toward
-- the same bound (RetryPolicy.MaxTechnical).
ALTER TABLE subscription_instalments ADD COLUMN failures_before_payment INTEGER NOT NULL DEFAULT 0;
