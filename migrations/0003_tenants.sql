-- 0003: tenants, their API keys (sha256 hashes only, never the key) and budget-period usage
-- (issue 12). Unlike audit_log these tables are mutable: limits change, keys are revoked,
-- usage accumulates. Who changed what is recorded in audit_log as control rows.

CREATE TABLE tenants (
  id         text        PRIMARY KEY,
  weight     integer     NOT NULL DEFAULT 1 CHECK (weight >= 1),
  limits     jsonb       NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);

CREATE TABLE api_keys (
  id         text        PRIMARY KEY,
  tenant_id  text        NOT NULL REFERENCES tenants (id),
  name       text,
  scopes     text[]      NOT NULL CHECK (scopes <@ ARRAY['tasks', 'models', 'control', 'audit', 'admin']::text[] AND cardinality(scopes) >= 1),
  key_hash   text        NOT NULL UNIQUE CHECK (key_hash ~ '^[0-9a-f]{64}$'),
  prefix     text        NOT NULL,
  limits     jsonb       NOT NULL DEFAULT '{}'::jsonb,
  expires_at timestamptz,
  revoked_at timestamptz,
  created_at timestamptz NOT NULL,
  created_by text        NOT NULL
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id);

-- Totals per subject (tenant:<id> or key:<id>) and budget period, so period budgets survive a restart.
CREATE TABLE tenant_usage (
  subject      text        NOT NULL,
  period_start timestamptz NOT NULL,
  tokens       bigint      NOT NULL DEFAULT 0,
  cost         double precision NOT NULL DEFAULT 0,
  PRIMARY KEY (subject, period_start)
);
