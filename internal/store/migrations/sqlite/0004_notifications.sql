-- Notifications: the dispatcher's head-of-line index, who made each
-- attempt, TEST-mode messages kept for /demo/mail, per-shop template
-- overrides.

-- Messages of one (channel, ordering_key) go out in creation order: the
-- dispatcher only claims the oldest PENDING message of each key. Ordering is
-- per channel so that a merchant's unreachable webhook never holds back the
-- buyer's email about the same payment.
CREATE INDEX outbox_head ON outbox (channel, ordering_key, created_at, id) WHERE status = 'PENDING';
CREATE INDEX outbox_listing ON outbox (status, created_at);
CREATE INDEX outbox_shop ON outbox (shop_id, created_at);

ALTER TABLE outbox_attempts ADD COLUMN attempt INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox_attempts ADD COLUMN instance TEXT NOT NULL DEFAULT '';

-- Emails and SMS of TEST-mode events when no SMTP server or SMS gateway
-- takes them (and a copy of every TEST-mode one when they do), for the
-- /demo/mail page. One row per outbox message: a redelivery is a no-op.
CREATE TABLE demo_messages (
    id TEXT PRIMARY KEY,
    outbox_id TEXT NOT NULL UNIQUE,
    shop_id TEXT NOT NULL,
    channel TEXT NOT NULL,                   -- email | sms
    event TEXT NOT NULL,
    mode TEXT NOT NULL,
    recipient TEXT NOT NULL,
    sender TEXT NOT NULL DEFAULT '',
    subject TEXT NOT NULL DEFAULT '',
    text_body TEXT NOT NULL,
    html_body TEXT NOT NULL DEFAULT '',
    headers TEXT NOT NULL DEFAULT '{}',      -- JSON object of extra headers
    created_at BIGINT NOT NULL
);
CREATE INDEX demo_messages_time ON demo_messages (created_at, id);

-- A shop's own wording of a notification in one language (subject, HTML
-- and text templates); the built-in template is used where none exists.
CREATE TABLE notify_templates (
    shop_id TEXT NOT NULL,
    template TEXT NOT NULL,
    lang TEXT NOT NULL,
    subject TEXT NOT NULL DEFAULT '',
    html_body TEXT NOT NULL DEFAULT '',
    text_body TEXT NOT NULL DEFAULT '',
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (shop_id, template, lang)
);
