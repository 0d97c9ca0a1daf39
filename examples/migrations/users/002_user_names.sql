ALTER TABLE {{tables.users}} ADD COLUMN name text NOT NULL DEFAULT '';
