-- Nodes and their agents' credentials and last reported facts.
CREATE TABLE nodes (
    id                  TEXT PRIMARY KEY,          -- nd_<24 hex>
    name                TEXT NOT NULL UNIQUE,
    public_address      TEXT NOT NULL DEFAULT '',
    sftp_port           INTEGER NOT NULL DEFAULT 5657,
    labels              TEXT NOT NULL DEFAULT '',
    created_at          INTEGER NOT NULL,
    enroll_token_hash   TEXT,                      -- one-time, until enrolled or expired
    enroll_expires_at   INTEGER,
    credential_hash     TEXT,                      -- SHA-256 of the agent's credential
    enrolled_at         INTEGER,
    revoked_at          INTEGER,
    last_seen_at        INTEGER,
    agent_version       TEXT NOT NULL DEFAULT '',
    read_only           INTEGER NOT NULL DEFAULT 0,
    stats               TEXT NOT NULL DEFAULT ''    -- last NodeStats, JSON
);
CREATE UNIQUE INDEX nodes_enroll_token ON nodes (enroll_token_hash);
