-- The card holder's name was kept in clear (tokens.holder_name) beside the
-- encrypted card number: PCI DSS protects the name when it is stored with
-- the full PAN. It is now sealed with the token's own data key, like the
-- card, under associated data of its own (the card's ciphertext cannot be
-- passed off as a name): NULL for no name.
--
-- SQL cannot seal: the server seals the names still in clear when it starts
-- (vault.SealClearHolderNames, in batches, safe with several copies) and
-- empties holder_name, which stays only for that upgrade. A purged token
-- has no data key left to seal with: its name goes with its card data, as
-- the purge now does.
ALTER TABLE tokens ADD COLUMN holder_name_sealed BLOB;
UPDATE tokens SET holder_name = '' WHERE data_key_id IS NULL AND holder_name <> '';
-- What SealClearHolderNames looks for at every start: empty once sealed, and
-- untouched by new tokens (their holder_name is ''), so a start does not
-- read a million tokens to find none.
CREATE INDEX tokens_holder_clear ON tokens (id) WHERE holder_name <> '';
