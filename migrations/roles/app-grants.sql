-- Grants for the gateway's application role on server Postgres (docs/operations.md "Grants").
-- Run as the owner of the audit tables after the migrations; replace orchqueue_app with your
-- role name. The role can append and read, manage holds, read the retention floor and the chain
-- marks, and purge only through audit_purge_plan/audit_purge_commit, within the retention the
-- owner set; it cannot UPDATE, DELETE or TRUNCATE audit_log, nor change the floor or the marks.
GRANT USAGE ON SCHEMA public TO orchqueue_app;
GRANT SELECT ON schema_migrations TO orchqueue_app;
GRANT SELECT, INSERT ON audit_log TO orchqueue_app;
GRANT SELECT, INSERT, DELETE ON audit_holds TO orchqueue_app;
GRANT SELECT ON audit_settings, audit_chain_marks TO orchqueue_app;
GRANT EXECUTE ON FUNCTION audit_purge_plan(text, timestamptz), audit_purge_commit(text, timestamptz, text, text, text) TO orchqueue_app;
-- Tenancy (0003): mutable tables the admin API manages; keys are revoked, never deleted.
GRANT SELECT, INSERT, UPDATE ON tenants, api_keys, tenant_usage TO orchqueue_app;
