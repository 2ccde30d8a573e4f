-- Plans: named limit packages assigned to users (the most a user's
-- servers may get, and how many servers they may own).
CREATE TABLE plans (
    name        TEXT PRIMARY KEY,
    memory_mb   INTEGER NOT NULL,
    cpu_percent INTEGER NOT NULL,
    pids        INTEGER NOT NULL,
    disk_mb     INTEGER NOT NULL,
    max_servers INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
);

ALTER TABLE users ADD COLUMN plan TEXT REFERENCES plans (name);
