-- The head check of the outbox claim (is this the oldest PENDING message
-- of its channel and ordering key?) reads outbox_head (channel,
-- ordering_key, created_at, id); outbox_ordering (ordering_key, created_at)
-- served nothing and cost every message an index entry to insert and one
-- to delete when delivered.
DROP INDEX outbox_ordering;
