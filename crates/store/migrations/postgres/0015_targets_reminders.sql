-- Daily nutrition targets (optional; kcal and grams) and the weigh-in reminder: the
-- weekdays it is sent on (a bit per day, Monday = 1 … Sunday = 64; 0 = off) and the local
-- time of day (HH:MM, in the person's time zone).
ALTER TABLE profiles ADD COLUMN kcal_target DOUBLE PRECISION;
ALTER TABLE profiles ADD COLUMN protein_target_g DOUBLE PRECISION;
ALTER TABLE profiles ADD COLUMN carbs_target_g DOUBLE PRECISION;
ALTER TABLE profiles ADD COLUMN fat_target_g DOUBLE PRECISION;
ALTER TABLE profiles ADD COLUMN reminder_days INTEGER NOT NULL DEFAULT 0 CHECK (reminder_days BETWEEN 0 AND 127);
ALTER TABLE profiles ADD COLUMN reminder_time TEXT;
