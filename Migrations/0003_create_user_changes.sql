-- The change log the live pages read: one row per user created, updated or deleted, written
-- by a trigger in the same transaction as the change, so it reaches every replica with it and
-- no writer (the app, psql, a script) can forget it. A deleted user leaves its row here.
--
-- `position` orders the log; a row appears only when its transaction commits, so positions
-- can become visible out of order (the feed keeps the gaps open a while). `region` is the
-- writer's connection's application_name (the app sets its region there). `written_at` is
-- the primary's clock inside the writing transaction, a moment before its commit.
CREATE TABLE user_changes (
    position bigserial PRIMARY KEY,
    user_id bigint NOT NULL,
    kind text NOT NULL CONSTRAINT user_changes_kind CHECK (kind IN ('insert', 'update', 'delete')),
    region text,
    written_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE FUNCTION record_user_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    recorded bigint;
BEGIN
    INSERT INTO user_changes (user_id, kind, region)
    VALUES (
        CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END,
        lower(TG_OP),
        nullif(current_setting('application_name', true), '')
    )
    RETURNING position INTO recorded;
    -- Keep the last 10,000 changes: every hundredth write drops what fell out of that window.
    IF recorded % 100 = 0 THEN
        DELETE FROM user_changes WHERE position <= recorded - 10000;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER users_record_changes
    AFTER INSERT OR UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION record_user_change();
