-- pgdbm:no-transaction
-- Builds without blocking writes; runs outside a transaction, recorded after it succeeds.
CREATE INDEX CONCURRENTLY IF NOT EXISTS users_email_lower ON {{tables.users}} (lower(email));
