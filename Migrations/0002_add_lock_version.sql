-- Optimistic locking: every edit and delete names the version it was based on, so a form
-- rendered from a lagging replica can never overwrite a newer change. Each write adds one.
ALTER TABLE users ADD COLUMN lock_version integer NOT NULL DEFAULT 1
    CONSTRAINT users_lock_version_positive CHECK (lock_version > 0);
