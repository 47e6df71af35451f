-- Subscriptions (internal/subscription): Charge/CreateSubscription and the
-- scheduler that charges their instalments with the subscription's token.

-- One row per subscription. The schedule is the rrule counted from
-- schedule_start (the effectDate of the current rule); schedule_done dates
-- of it became instalments already (COUNT is checked against it), and
-- schedule_base instalments came from earlier rules (Subscription/Update).
-- next_due_at is the date of the next instalment to create, NULL when the
-- rule has no further date or the subscription is cancelled.
CREATE TABLE subscriptions (
    id TEXT PRIMARY KEY,                       -- subscriptionId (32 hex)
    shop_id TEXT NOT NULL REFERENCES shops(id),
    mode TEXT NOT NULL,                        -- TEST | PRODUCTION
    token TEXT NOT NULL,                       -- paymentMethodToken
    order_id TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    metadata TEXT NOT NULL DEFAULT '{}',
    options TEXT NOT NULL DEFAULT '{}',        -- JSON: ipnTargetUrl, card options of the instalments
    amount BIGINT NOT NULL,
    currency TEXT NOT NULL,
    initial_amount BIGINT,                     -- NULL: none given
    initial_amount_number INTEGER NOT NULL DEFAULT 0,
    effect_date BIGINT NOT NULL,
    rrule TEXT NOT NULL,                       -- as the merchant gave it
    schedule_start BIGINT NOT NULL,
    schedule_base INTEGER NOT NULL DEFAULT 0,
    schedule_done INTEGER NOT NULL DEFAULT 0,
    total_payments INTEGER NOT NULL DEFAULT 0, -- 0: no end
    next_sequence INTEGER NOT NULL DEFAULT 1,
    next_due_at BIGINT,
    last_due_at BIGINT,
    status TEXT NOT NULL,                      -- ACTIVE | CANCELLED
    cancel_date BIGINT,
    version INTEGER NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX subscriptions_due ON subscriptions (next_due_at) WHERE status = 'ACTIVE' AND next_due_at IS NOT NULL;
CREATE INDEX subscriptions_token ON subscriptions (shop_id, token);

-- One row per instalment, created when it falls due. The unique
-- (subscription_id, sequence) makes an instalment exist once whatever the
-- number of schedulers; it is then claimed (status CHARGING, claim_id,
-- claimed_until as the lease) by one copy at a time, and payment_id is set
-- in the very transaction that creates the payment of an attempt, only by
-- the holder of the claim and only if no attempt is in flight: an
-- instalment is never charged twice.
CREATE TABLE subscription_instalments (
    id TEXT PRIMARY KEY,
    subscription_id TEXT NOT NULL REFERENCES subscriptions(id),
    shop_id TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    due_at BIGINT NOT NULL,
    amount BIGINT NOT NULL,
    currency TEXT NOT NULL,
    status TEXT NOT NULL,                      -- DUE | CHARGING | PAID | FAILED | CANCELLED
    attempts INTEGER NOT NULL DEFAULT 0,       -- payments made
    refusals INTEGER NOT NULL DEFAULT 0,       -- of which refused by the issuer
    next_attempt_at BIGINT NOT NULL,
    last_attempt_at BIGINT,
    claim_id TEXT NOT NULL DEFAULT '',
    claimed_until BIGINT NOT NULL DEFAULT 0,
    payment_id TEXT,                           -- the payment of the current (or last) attempt
    transaction_uuid TEXT NOT NULL DEFAULT '',
    error_code TEXT NOT NULL DEFAULT '',
    error_detail TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (subscription_id, sequence)
);
CREATE INDEX subscription_instalments_due ON subscription_instalments (next_attempt_at) WHERE status = 'DUE';
CREATE INDEX subscription_instalments_charging ON subscription_instalments (claimed_until) WHERE status = 'CHARGING';

-- Every payment made for an instalment, one per attempt.
CREATE TABLE subscription_attempts (
    instalment_id TEXT NOT NULL REFERENCES subscription_instalments(id),
    attempt INTEGER NOT NULL,
    payment_id TEXT NOT NULL UNIQUE REFERENCES payments(id),
    transaction_uuid TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (instalment_id, attempt)
);
