-- Identity and access: account state, TOTP, recovery codes, custom roles,
-- two-stage sessions, and the hash-chained audit log.

ALTER TABLE users ADD COLUMN active BIGINT NOT NULL DEFAULT 1;
-- Confirmed TOTP secret (base32); NULL when 2FA is off.
ALTER TABLE users ADD COLUMN totp_secret TEXT;
-- Secret shown on the setup page, waiting for a confirming code.
ALTER TABLE users ADD COLUMN totp_pending TEXT;
-- Last TOTP time step accepted: a code for this step or an earlier one is a replay.
ALTER TABLE users ADD COLUMN totp_last_step BIGINT;

CREATE TABLE recovery_codes (
    user_id   BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used_at   BIGINT,
    PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE roles (
    name       TEXT PRIMARY KEY,
    scopes     TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Sessions gain a public id (for listing and revoking, never the secret) and
-- a stage: 'full', or 'second_factor' between password and TOTP. Existing
-- sessions end with this upgrade.
DELETE FROM sessions;
ALTER TABLE sessions ADD COLUMN public_id TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN stage TEXT NOT NULL DEFAULT 'full';
CREATE UNIQUE INDEX sessions_public_id ON sessions (public_id);

CREATE TABLE audit_log (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          BIGINT NOT NULL,
    event_type  TEXT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    target      TEXT,
    result      TEXT NOT NULL,
    ip          TEXT,
    user_agent  TEXT,
    request_id  TEXT,
    extra       TEXT NOT NULL,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);

-- Where the verifiable chain starts: the first record id kept and the hash
-- it chains to (all zeros until retention prunes the oldest records).
CREATE TABLE audit_anchor (
    id        BIGINT PRIMARY KEY CHECK (id = 1),
    first_id  BIGINT NOT NULL,
    prev_hash TEXT NOT NULL
);
INSERT INTO audit_anchor (id, first_id, prev_hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
