-- A person's own facts for the tracking pages: height (BMI), birth date and sex (the
-- caliper form), time zone, units (entered and shown; stored metric), a goal weight, and
-- whether rewards are shown. All optional but the units and the rewards switch.
ALTER TABLE profiles ADD COLUMN height_cm DOUBLE PRECISION;
ALTER TABLE profiles ADD COLUMN birth_date DATE;
ALTER TABLE profiles ADD COLUMN sex TEXT CHECK (sex IN ('male', 'female'));
ALTER TABLE profiles ADD COLUMN timezone TEXT;
ALTER TABLE profiles ADD COLUMN units TEXT NOT NULL DEFAULT 'metric' CHECK (units IN ('metric', 'imperial'));
ALTER TABLE profiles ADD COLUMN goal_weight_kg DOUBLE PRECISION;
ALTER TABLE profiles ADD COLUMN show_rewards BOOLEAN NOT NULL DEFAULT TRUE;
