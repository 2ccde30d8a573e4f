-- The previous agent credential stays valid until prev_valid_until after a rotation.
ALTER TABLE nodes ADD COLUMN credential_prev_hash TEXT;
ALTER TABLE nodes ADD COLUMN prev_valid_until INTEGER;
