-- The admin overview without a pass over every profile (issue 28).
--
-- How many profiles there are, and how many of them are disabled: one row, kept by triggers
-- in the transaction of every insert, delete or change of `disabled`, whoever makes it.
CREATE TABLE profile_totals (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    total    INTEGER NOT NULL,
    disabled INTEGER NOT NULL
);
INSERT INTO profile_totals (id, total, disabled)
    SELECT 1, COUNT(*), COALESCE(SUM(disabled), 0) FROM profiles;
CREATE TRIGGER profiles_counted_insert AFTER INSERT ON profiles BEGIN
    UPDATE profile_totals SET total = total + 1, disabled = disabled + NEW.disabled;
END;
CREATE TRIGGER profiles_counted_delete AFTER DELETE ON profiles BEGIN
    UPDATE profile_totals SET total = total - 1, disabled = disabled - OLD.disabled;
END;
CREATE TRIGGER profiles_counted_disabled AFTER UPDATE OF disabled ON profiles
    WHEN NEW.disabled <> OLD.disabled BEGIN
    UPDATE profile_totals SET disabled = disabled + NEW.disabled - OLD.disabled;
END;

-- Profiles active in the last 1, 7 and 30 days as the jobs last counted them (a pass over
-- `user_stats`, once a round), and when.
CREATE TABLE active_counts (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    counted_at   TEXT NOT NULL,
    last_1_day   INTEGER NOT NULL,
    last_7_days  INTEGER NOT NULL,
    last_30_days INTEGER NOT NULL
);
