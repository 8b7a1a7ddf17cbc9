-- 0004: one hash chain per writer (issue 15), so several gateway replicas can share one server
-- Postgres without a lock across replicas on their commits. Every row names its `chain` (the
-- replica id; 'main' for a single writer and for every row written before this migration);
-- `seq` and `prev_hash` run per chain, and the chain marks (genesis, purges) are kept per chain.
-- A chain's genesis mark is its registration: verify walks every registered chain and fails on
-- rows of a chain that has none. The row hash covers `chain` only for chains other than 'main'
-- (src/audit/hash-chain.ts), so existing rows verify unchanged.

ALTER TABLE audit_log ADD COLUMN chain text NOT NULL DEFAULT 'main';
ALTER TABLE audit_log DROP CONSTRAINT audit_log_pkey;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_pkey PRIMARY KEY (chain, seq);
-- Replica ids are short names (config state.replica_id: [A-Za-z0-9._-]{1,64}).
ALTER TABLE audit_log ADD CONSTRAINT audit_log_chain_name CHECK (chain ~ '^[A-Za-z0-9._-]{1,64}$');

ALTER TABLE audit_chain_marks ADD COLUMN chain text NOT NULL DEFAULT 'main';
ALTER TABLE audit_chain_marks DROP CONSTRAINT audit_chain_marks_pkey;
ALTER TABLE audit_chain_marks ADD CONSTRAINT audit_chain_marks_pkey PRIMARY KEY (chain, kind, seq);
DROP INDEX audit_chain_marks_one_genesis;
CREATE UNIQUE INDEX audit_chain_marks_one_genesis ON audit_chain_marks (chain) WHERE kind = 'genesis';

ALTER TABLE audit_purge_window ADD COLUMN chain text NOT NULL DEFAULT 'main';

-- DELETE passes only for rows of the purged chain at or below the window its purge opened in this transaction.
CREATE OR REPLACE FUNCTION audit_log_refuse_row_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  purge_through bigint;
BEGIN
  IF TG_OP = 'DELETE' THEN
    SELECT w.through_seq INTO purge_through FROM audit_purge_window w WHERE w.txid = txid_current() AND w.chain = OLD.chain;
    IF purge_through IS NOT NULL AND OLD.seq <= purge_through THEN
      RETURN OLD;
    END IF;
  END IF;
  RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;

-- The first row of each chain is its genesis (and registers the chain); a chain restarted at seq 1 is refused.
CREATE OR REPLACE FUNCTION audit_log_record_genesis() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  known record;
BEGIN
  SELECT m.seq, m.hash INTO known FROM audit_chain_marks m WHERE m.kind = 'genesis' AND m.chain = NEW.chain;
  IF FOUND THEN
    RAISE EXCEPTION 'audit chain % already has a genesis row (seq %, hash %): a chain cannot restart at seq 1', NEW.chain, known.seq, known.hash
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  INSERT INTO audit_chain_marks (chain, kind, seq, hash) VALUES (NEW.chain, 'genesis', NEW.seq, NEW.hash);
  RETURN NEW;
END
$$;

DROP FUNCTION audit_purge_commit(timestamptz, text, text, text);
DROP FUNCTION audit_purge_plan(timestamptz);

-- What a purge of `purged_chain` with this cutoff would delete, and that chain's head its row must
-- extend. Refuses a cutoff newer than the owner's retention floor. Only the chain's own rows are
-- considered; holds apply to every chain. It takes no lock against the chain's appends: one
-- process writes a chain (the writer's advisory lock, src/audit/chain-lock.ts) and it runs its
-- purge between its own commits; a row appended meanwhile anyway takes the head's next seq, so the
-- purge row's insert fails on the primary key and nothing happens.
CREATE FUNCTION audit_purge_plan(purged_chain text, older_than timestamptz)
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
  SELECT min(l.seq), max(l.seq) INTO first_seq, last_seq FROM audit_log l WHERE l.chain = purged_chain;
  head_seq := coalesce(last_seq, 0);
  SELECT coalesce((SELECT l.hash FROM audit_log l WHERE l.chain = purged_chain AND l.seq = last_seq), repeat('0', 64)) INTO head_hash;
  retention_days := floor_days;
  through_seq := NULL;
  anchor_hash := NULL;
  deleted_rows := 0;
  IF first_seq IS NOT NULL THEN
    SELECT least(
      (SELECT l.seq FROM audit_log l WHERE l.chain = purged_chain AND l.at >= older_than ORDER BY l.seq LIMIT 1),
      (SELECT min(l.seq) FROM audit_holds h JOIN audit_log l ON l.task_id = h.task_id WHERE l.chain = purged_chain),
      (SELECT min(l.seq) FROM audit_holds h JOIN audit_log l ON l.session_id = h.session_id WHERE l.chain = purged_chain),
      (SELECT min(l.seq) FROM audit_holds h JOIN audit_log l ON l.at >= h.from_at AND l.at < h.to_at WHERE l.chain = purged_chain)
    ) INTO keep_from;
    through := coalesce(keep_from - 1, last_seq);
    IF through >= first_seq THEN
      through_seq := through;
      SELECT l.hash INTO anchor_hash FROM audit_log l WHERE l.chain = purged_chain AND l.seq = through;
      SELECT count(*) INTO deleted_rows FROM audit_log l WHERE l.chain = purged_chain AND l.seq <= through;
    END IF;
  END IF;
  RETURN NEXT;
END
$$;

-- Deletes what audit_purge_plan(purged_chain, older_than) names and appends the retention_purge row
-- the caller chained after that chain's head (content = the canonical JSON its hash covers, which
-- names the chain unless it is 'main'). The row must say exactly what is deleted, under which cutoff
-- and retention, in which chain, or nothing happens.
CREATE FUNCTION audit_purge_commit(purged_chain text, older_than timestamptz, content text, row_prev_hash text, row_hash text)
RETURNS TABLE (through_seq bigint, anchor_hash text, deleted_rows bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  plan    record;
  c       jsonb := content::jsonb;
  d       jsonb := c->'data';
  deleted bigint := 0;
BEGIN
  SELECT * INTO plan FROM audit_purge_plan(purged_chain, older_than);
  IF c->>'kind' IS DISTINCT FROM 'control' OR d->>'action' IS DISTINCT FROM 'retention_purge' THEN
    RAISE EXCEPTION 'purge row is not a retention_purge control row' USING ERRCODE = 'check_violation';
  END IF;
  IF coalesce(c->>'chain', 'main') IS DISTINCT FROM purged_chain THEN
    RAISE EXCEPTION 'purge row belongs to chain %, not %', coalesce(c->>'chain', 'main'), purged_chain USING ERRCODE = 'check_violation';
  END IF;
  IF (c->>'seq')::bigint IS DISTINCT FROM plan.head_seq + 1 OR row_prev_hash IS DISTINCT FROM plan.head_hash THEN
    RAISE EXCEPTION 'purge row does not extend the head of chain % (seq %)', purged_chain, plan.head_seq USING ERRCODE = 'check_violation';
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
    INSERT INTO audit_purge_window (txid, through_seq, chain) VALUES (txid_current(), plan.through_seq, purged_chain);
    DELETE FROM audit_log l WHERE l.chain = purged_chain AND l.seq <= plan.through_seq;
    GET DIAGNOSTICS deleted = ROW_COUNT;
    DELETE FROM audit_purge_window w WHERE w.txid = txid_current();
  END IF;
  INSERT INTO audit_log (chain, seq, at, kind, task_id, session_id, pool_id, actor, correlation_id, data, prev_hash, hash)
    VALUES (purged_chain, (c->>'seq')::bigint, (c->>'at')::timestamptz, c->>'kind', c->>'task_id', c->>'session_id', c->>'pool_id',
      c->>'actor', c->>'correlation_id', d, row_prev_hash, row_hash);
  INSERT INTO audit_chain_marks (chain, kind, seq, hash, anchor_seq, anchor_hash)
    VALUES (purged_chain, 'purge', (c->>'seq')::bigint, row_hash, plan.through_seq, plan.anchor_hash);
  RETURN QUERY SELECT plan.through_seq, plan.anchor_hash, deleted;
END
$$;

REVOKE ALL ON FUNCTION audit_purge_plan(text, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION audit_purge_commit(text, timestamptz, text, text, text) FROM PUBLIC;
