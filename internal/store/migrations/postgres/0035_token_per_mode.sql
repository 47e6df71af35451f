-- A token value is the shop's in one mode: TEST and PRODUCTION have their
-- own keys, and Ingenico's test and production platforms are separate
-- accounts, so a merchant who tested with its customer ids as alias names
-- ("CUST42") stores the same names again once live. Unique per (shop_id,
-- token), the PRODUCTION alias collided with the TEST one ("alias cannot
-- be updated"). Every look-up of a token by its value names the mode too
-- (store.tokenRecordQuery and the statements beside it), which this index
-- serves; rows already there stay unique, as each was per shop.
DROP INDEX tokens_shop_token;
CREATE UNIQUE INDEX tokens_shop_mode_token ON tokens (shop_id, mode, token);
