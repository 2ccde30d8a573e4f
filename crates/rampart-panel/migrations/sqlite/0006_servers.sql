-- Templates (data: a validated JSON document each), servers, their port
-- allocations and sub-user grants, and per-user server caps.
CREATE TABLE templates (
    id          TEXT PRIMARY KEY,                  -- a slug, e.g. static-web
    name        TEXT NOT NULL,
    body        TEXT NOT NULL,                     -- the template document, JSON
    builtin     INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL
);

CREATE TABLE servers (
    id          TEXT PRIMARY KEY,                  -- sv_<16 hex>
    name        TEXT NOT NULL,
    owner_id    INTEGER NOT NULL REFERENCES users (id),
    node_id     TEXT NOT NULL REFERENCES nodes (id),
    template_id TEXT,
    spec        TEXT NOT NULL,                     -- what the agent runs (ServerSpec), JSON
    variables   TEXT NOT NULL DEFAULT '{}',        -- the values given at creation, JSON
    state       TEXT NOT NULL,
    last_error  TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL
);
CREATE INDEX servers_owner ON servers (owner_id);
CREATE INDEX servers_node ON servers (node_id);

-- Never two servers on one port of a node.
CREATE TABLE server_ports (
    node_id     TEXT NOT NULL REFERENCES nodes (id),
    port        INTEGER NOT NULL,
    server_id   TEXT NOT NULL REFERENCES servers (id) ON DELETE CASCADE,
    PRIMARY KEY (node_id, port)
);

CREATE TABLE server_grants (
    server_id   TEXT NOT NULL REFERENCES servers (id) ON DELETE CASCADE,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    scopes      TEXT NOT NULL,                     -- comma-separated server scopes
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (server_id, user_id)
);
CREATE INDEX server_grants_user ON server_grants (user_id);

ALTER TABLE users ADD COLUMN max_servers INTEGER;    -- NULL: the installation's default
