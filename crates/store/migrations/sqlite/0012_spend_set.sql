-- `last_active_at` changes with every spend; indexed, each change also moved its entry in
-- the index (a page more in every group commit). Counting active profiles, an admin
-- statistic, reads the table (one row per profile) instead.
DROP INDEX user_stats_last_active_idx;
