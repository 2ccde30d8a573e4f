-- OAuth2 client-credentials API clients and their access tokens.

CREATE TABLE api_clients (
    id                TEXT PRIMARY KEY,            -- rc_<24 hex>
    user_id           INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name              TEXT NOT NULL,
    scopes            TEXT NOT NULL,
    secret_hash       TEXT NOT NULL,               -- SHA-256 of a 256-bit random secret
    secret_generation INTEGER NOT NULL DEFAULT 1,     -- bumped on regeneration: older tokens die
    ip_allowlist      TEXT NOT NULL DEFAULT '',    -- comma-separated networks; empty = any
    created_at        INTEGER NOT NULL,
    expires_at        INTEGER,
    revoked_at        INTEGER,
    last_used_at      INTEGER,
    last_ip           TEXT,
    request_count     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX api_clients_by_user ON api_clients (user_id);

CREATE TABLE api_tokens (
    token_hash        TEXT PRIMARY KEY,
    client_id         TEXT NOT NULL REFERENCES api_clients (id) ON DELETE CASCADE,
    scopes            TEXT NOT NULL,
    secret_generation INTEGER NOT NULL,
    issued_at         INTEGER NOT NULL,
    expires_at        INTEGER NOT NULL
);
CREATE INDEX api_tokens_by_client ON api_tokens (client_id);
