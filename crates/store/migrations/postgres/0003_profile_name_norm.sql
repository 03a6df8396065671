-- Profile search compares names case-insensitively by Unicode rules. SQLite's lower() and
-- LIKE fold ASCII letters only, so the store keeps a lower-cased copy of the name, computed
-- in Rust like email_norm. Existing rows get the database's lower() as a best effort.
ALTER TABLE profiles ADD COLUMN name_norm TEXT NOT NULL DEFAULT '';
UPDATE profiles SET name_norm = lower(name);
