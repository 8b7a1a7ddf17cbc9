-- 0002: purges only the owner can authorise, and chain marks verify checks (issue 10, finding 3).
-- 0001 let any role that could set a session GUC open the delete trigger, let the application
-- role purge everything ('infinity') without leaving a purge row, and nothing remembered the
-- chain's first row, so a wiped log restarted at seq 1 and still verified. Here:
--   * audit_settings: the retention floor, written by the owner only; a purge cutoff newer than
--     now() - retention_days (database clock) is refused, and no purge runs while it is unset.
--   * audit_purge_window: the only thing that opens the delete trigger, a row for the current
--     transaction that only the owner-side purge functions can write (no session setting does).
--   * audit_chain_marks: the chain's genesis row (recorded by a trigger on the first insert) and
--     every purge (recorded by the purge itself), so verify detects a restarted or cut chain.
--   * audit_purge_plan + audit_purge_commit replace audit_purge_prefix: the purge deletes and
--     appends its own chained retention_purge row in one call, after checking the row's hash,
--     its place at the head and the anchor it claims; there is no purge without that row.

CREATE TABLE audit_settings (
  id             boolean     PRIMARY KEY DEFAULT true CHECK (id),
  retention_days integer     CHECK (retention_days IS NULL OR retention_days >= 1),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  updated_by     text        NOT NULL DEFAULT current_user
);
INSERT INTO audit_settings (id, retention_days) VALUES (true, NULL);

CREATE TABLE audit_purge_window (
  txid         bigint PRIMARY KEY,
  through_seq  bigint NOT NULL
);

CREATE TABLE audit_chain_marks (
  kind        text        NOT NULL CHECK (kind IN ('genesis', 'purge')),
  -- genesis: the first row of the chain; purge: the retention_purge row.
  seq         bigint      NOT NULL,
  hash        text        NOT NULL,
  -- purge only: the last deleted row (NULL when the purge deleted nothing).
  anchor_seq  bigint,
  anchor_hash text,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (kind, seq),
  CONSTRAINT audit_chain_marks_anchor CHECK ((anchor_seq IS NULL) = (anchor_hash IS NULL) AND (kind = 'purge' OR anchor_seq IS NULL))
);
CREATE UNIQUE INDEX audit_chain_marks_one_genesis ON audit_chain_marks (kind) WHERE kind = 'genesis';

-- A log that already has rows: its first row becomes the genesis, its purge rows become marks.
INSERT INTO audit_chain_marks (kind, seq, hash)
  SELECT 'genesis', l.seq, l.hash FROM audit_log l ORDER BY l.seq LIMIT 1;
INSERT INTO audit_chain_marks (kind, seq, hash, anchor_seq, anchor_hash)
  SELECT 'purge', l.seq, l.hash, (l.data->>'anchor_seq')::bigint, l.data->>'anchor_hash'
  FROM audit_log l WHERE l.kind = 'control' AND l.data->>'action' = 'retention_purge';

-- DELETE passes only for rows at or below the window the purge opened in this transaction.
-- SECURITY DEFINER so it can read the owner-only window whoever runs the DELETE.
CREATE OR REPLACE FUNCTION audit_log_refuse_row_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  purge_through bigint;
BEGIN
  IF TG_OP = 'DELETE' THEN
    SELECT w.through_seq INTO purge_through FROM audit_purge_window w WHERE w.txid = txid_current();
    IF purge_through IS NOT NULL AND OLD.seq <= purge_through THEN
      RETURN OLD;
    END IF;
  END IF;
  RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;

-- The first row ever written is the genesis; writing seq 1 again (a wiped, restarted chain) is refused.
CREATE FUNCTION audit_log_record_genesis() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  known record;
BEGIN
  SELECT m.seq, m.hash INTO known FROM audit_chain_marks m WHERE m.kind = 'genesis';
  IF FOUND THEN
    RAISE EXCEPTION 'audit_log already has a genesis row (seq %, hash %): a chain cannot restart at seq 1', known.seq, known.hash
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  INSERT INTO audit_chain_marks (kind, seq, hash) VALUES ('genesis', NEW.seq, NEW.hash);
  RETURN NEW;
END
$$;

CREATE TRIGGER audit_log_genesis BEFORE INSERT ON audit_log
  FOR EACH ROW WHEN (NEW.seq = 1) EXECUTE FUNCTION audit_log_record_genesis();

DROP FUNCTION audit_purge_prefix(timestamptz);

-- What a purge with this cutoff would delete, and the head its row must extend. Refuses a cutoff
-- newer than the owner's retention floor. Locks out concurrent appends until the transaction ends,
-- so audit_purge_commit in the same transaction sees the same plan.
CREATE FUNCTION audit_purge_plan(older_than timestamptz)
RETURNS TABLE (through_seq bigint, anchor_hash text, deleted_rows bigint, head_seq bigint, head_hash text, retention_days integer)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  floor_days integer;
  first_seq bigint;
  last_seq  bigint;
  keep_from bigint;
  through   bigint;
BEGIN
  SELECT s.retention_days INTO floor_days FROM audit_settings s;
  IF floor_days IS NULL THEN
    RAISE EXCEPTION 'audit retention is not configured by the database owner (audit_settings.retention_days): purge refused'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF older_than IS NULL OR NOT isfinite(older_than) OR older_than > now() - make_interval(days => floor_days) THEN
    RAISE EXCEPTION 'purge cutoff % is newer than the retention floor of % days: purge refused', older_than, floor_days
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  LOCK TABLE audit_log IN EXCLUSIVE MODE;
  SELECT min(l.seq), max(l.seq) INTO first_seq, last_seq FROM audit_log l;
  head_seq := coalesce(last_seq, 0);
  SELECT coalesce((SELECT l.hash FROM audit_log l WHERE l.seq = last_seq), repeat('0', 64)) INTO head_hash;
  retention_days := floor_days;
  through_seq := NULL;
  anchor_hash := NULL;
  deleted_rows := 0;
  IF first_seq IS NOT NULL THEN
    SELECT least(
      (SELECT l.seq FROM audit_log l WHERE l.at >= older_than ORDER BY l.seq LIMIT 1),
      (SELECT min(l.seq) FROM audit_holds h JOIN audit_log l ON l.task_id = h.task_id),
      (SELECT min(l.seq) FROM audit_holds h JOIN audit_log l ON l.session_id = h.session_id),
      (SELECT min(l.seq) FROM audit_holds h JOIN audit_log l ON l.at >= h.from_at AND l.at < h.to_at)
    ) INTO keep_from;
    through := coalesce(keep_from - 1, last_seq);
    IF through >= first_seq THEN
      through_seq := through;
      SELECT l.hash INTO anchor_hash FROM audit_log l WHERE l.seq = through;
      SELECT count(*) INTO deleted_rows FROM audit_log l WHERE l.seq <= through;
    END IF;
  END IF;
  RETURN NEXT;
END
$$;

-- Deletes what audit_purge_plan(older_than) names and appends the retention_purge row the caller
-- chained after the plan's head (content = the canonical JSON its hash covers). The row must say
-- exactly what is deleted, under which cutoff and retention, or nothing happens.
CREATE FUNCTION audit_purge_commit(older_than timestamptz, content text, row_prev_hash text, row_hash text)
RETURNS TABLE (through_seq bigint, anchor_hash text, deleted_rows bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  plan    record;
  c       jsonb := content::jsonb;
  d       jsonb := c->'data';
  deleted bigint := 0;
BEGIN
  SELECT * INTO plan FROM audit_purge_plan(older_than);
  IF c->>'kind' IS DISTINCT FROM 'control' OR d->>'action' IS DISTINCT FROM 'retention_purge' THEN
    RAISE EXCEPTION 'purge row is not a retention_purge control row' USING ERRCODE = 'check_violation';
  END IF;
  IF (c->>'seq')::bigint IS DISTINCT FROM plan.head_seq + 1 OR row_prev_hash IS DISTINCT FROM plan.head_hash THEN
    RAISE EXCEPTION 'purge row does not extend the chain head (seq %)', plan.head_seq USING ERRCODE = 'check_violation';
  END IF;
  IF encode(sha256(convert_to(row_prev_hash || content, 'UTF8')), 'hex') IS DISTINCT FROM row_hash THEN
    RAISE EXCEPTION 'purge row hash does not match its content' USING ERRCODE = 'check_violation';
  END IF;
  IF (d->>'anchor_seq')::bigint IS DISTINCT FROM plan.through_seq OR d->>'anchor_hash' IS DISTINCT FROM plan.anchor_hash
     OR (d->'detail'->>'deleted_rows')::bigint IS DISTINCT FROM plan.deleted_rows
     OR (d->'detail'->>'older_than')::timestamptz IS DISTINCT FROM older_than
     OR (d->'detail'->>'retention_days')::integer IS DISTINCT FROM plan.retention_days THEN
    RAISE EXCEPTION 'purge row does not match the purge (anchor %, % rows, retention % days)', plan.through_seq, plan.deleted_rows, plan.retention_days
      USING ERRCODE = 'check_violation';
  END IF;
  IF plan.through_seq IS NOT NULL THEN
    INSERT INTO audit_purge_window (txid, through_seq) VALUES (txid_current(), plan.through_seq);
    DELETE FROM audit_log l WHERE l.seq <= plan.through_seq;
    GET DIAGNOSTICS deleted = ROW_COUNT;
    DELETE FROM audit_purge_window w WHERE w.txid = txid_current();
  END IF;
  INSERT INTO audit_log (seq, at, kind, task_id, session_id, pool_id, actor, correlation_id, data, prev_hash, hash)
    VALUES ((c->>'seq')::bigint, (c->>'at')::timestamptz, c->>'kind', c->>'task_id', c->>'session_id', c->>'pool_id',
      c->>'actor', c->>'correlation_id', d, row_prev_hash, row_hash);
  INSERT INTO audit_chain_marks (kind, seq, hash, anchor_seq, anchor_hash)
    VALUES ('purge', (c->>'seq')::bigint, row_hash, plan.through_seq, plan.anchor_hash);
  RETURN QUERY SELECT plan.through_seq, plan.anchor_hash, deleted;
END
$$;

REVOKE ALL ON FUNCTION audit_purge_plan(timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION audit_purge_commit(timestamptz, text, text, text) FROM PUBLIC;
