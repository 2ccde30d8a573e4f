-- Users' SSH public keys for SFTP logins (Ed25519/ECDSA, OpenSSH format).
CREATE TABLE ssh_keys (
    id           TEXT PRIMARY KEY,            -- sk_<24 hex>
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    algorithm    TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,               -- SHA256:<base64>, as ssh-keygen -l
    public_key   TEXT NOT NULL,               -- "type base64", no comment
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    UNIQUE (user_id, fingerprint)
);
