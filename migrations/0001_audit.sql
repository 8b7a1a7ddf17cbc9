-- 0001: the append-only, hash-chained audit log, legal holds, and the one sanctioned way to
-- delete rows (the retention purge of a contiguous, unheld prefix). Applied by
-- src/audit/migrate.ts inside one transaction; identical on server Postgres and PGlite.

CREATE TABLE audit_log (
  seq            bigint      PRIMARY KEY,
  at             timestamptz NOT NULL,
  kind           text        NOT NULL CHECK (kind IN ('admission', 'rejection', 'placement', 'terminal', 'control', 'session_delete')),
  task_id        text,
  session_id     text,
  pool_id        text,
  actor          text,
  correlation_id text,
  data           jsonb       NOT NULL,
  prev_hash      text        NOT NULL,
  hash           text        NOT NULL,
  -- The hash covers `at` at millisecond precision; refusing finer values keeps every stored
  -- instant covered by it.
  CONSTRAINT audit_log_at_ms CHECK (date_trunc('milliseconds', at AT TIME ZONE 'UTC') = at AT TIME ZONE 'UTC')
);

CREATE INDEX audit_log_task_seq ON audit_log (task_id, seq) WHERE task_id IS NOT NULL;
CREATE INDEX audit_log_session_seq ON audit_log (session_id, seq) WHERE session_id IS NOT NULL;
CREATE INDEX audit_log_kind_seq ON audit_log (kind, seq);
CREATE INDEX audit_log_at ON audit_log (at);

-- A hold covers exactly one scope: a task, a session, or a half-open time range [from_at, to_at).
CREATE TABLE audit_holds (
  id         text        PRIMARY KEY,
  task_id    text,
  session_id text,
  from_at    timestamptz,
  to_at      timestamptz,
  reason     text        NOT NULL,
  created_by text        NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT audit_holds_one_scope CHECK (num_nonnulls(task_id, session_id, from_at) = 1),
  CONSTRAINT audit_holds_range CHECK ((from_at IS NULL) = (to_at IS NULL) AND (from_at IS NULL OR from_at < to_at))
);

-- Append-only: UPDATE and TRUNCATE are always refused; DELETE only for rows at or below the
-- bound that audit_purge_prefix sets for its own transaction.
CREATE FUNCTION audit_log_refuse_row_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  purge_through bigint := coalesce(nullif(current_setting('orchqueue.audit_purge_through', true), '')::bigint, 0);
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF OLD.seq <= purge_through THEN
      RETURN OLD;
    END IF;
  END IF;
  RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE FUNCTION audit_log_refuse_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only: TRUNCATE refused' USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_row_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_truncate();

-- Deletes the longest prefix of the chain whose rows are all older than `older_than` and not
-- under a hold; stops at the first row that must stay. Returns the last deleted seq and its
-- hash (the new chain anchor, which the caller records in a retention_purge row in the same
-- transaction). SECURITY DEFINER so the application role needs no DELETE privilege.
CREATE FUNCTION audit_purge_prefix(older_than timestamptz)
RETURNS TABLE (through_seq bigint, anchor_hash text, deleted_rows bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  first_seq bigint;
  last_seq  bigint;
  keep_from bigint;
  through   bigint;
  anchor    text;
  deleted   bigint;
BEGIN
  SELECT min(l.seq), max(l.seq) INTO first_seq, last_seq FROM audit_log l;
  IF first_seq IS NULL THEN
    RETURN QUERY SELECT NULL::bigint, NULL::text, 0::bigint;
    RETURN;
  END IF;
  SELECT least(
    (SELECT l.seq FROM audit_log l WHERE l.at >= older_than ORDER BY l.seq LIMIT 1),
    (SELECT min(l.seq) FROM audit_holds h JOIN audit_log l ON l.task_id = h.task_id),
    (SELECT min(l.seq) FROM audit_holds h JOIN audit_log l ON l.session_id = h.session_id),
    (SELECT min(l.seq) FROM audit_holds h JOIN audit_log l ON l.at >= h.from_at AND l.at < h.to_at)
  ) INTO keep_from;
  through := coalesce(keep_from - 1, last_seq);
  IF through < first_seq THEN
    RETURN QUERY SELECT NULL::bigint, NULL::text, 0::bigint;
    RETURN;
  END IF;
  SELECT l.hash INTO anchor FROM audit_log l WHERE l.seq = through;
  PERFORM set_config('orchqueue.audit_purge_through', through::text, true);
  DELETE FROM audit_log l WHERE l.seq <= through;
  GET DIAGNOSTICS deleted = ROW_COUNT;
  PERFORM set_config('orchqueue.audit_purge_through', '', true);
  RETURN QUERY SELECT through, anchor, deleted;
END
$$;

REVOKE ALL ON FUNCTION audit_purge_prefix(timestamptz) FROM PUBLIC;
