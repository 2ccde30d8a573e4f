-- Plans: named limit packages assigned to users (the most a user's
-- servers may get, and how many servers they may own).
CREATE TABLE plans (
    name        TEXT PRIMARY KEY,
    memory_mb   BIGINT NOT NULL,
    cpu_percent BIGINT NOT NULL,
    pids        BIGINT NOT NULL,
    disk_mb     BIGINT NOT NULL,
    max_servers BIGINT NOT NULL,
    created_at  BIGINT NOT NULL
);

ALTER TABLE users ADD COLUMN plan TEXT REFERENCES plans (name);
