-- Tracked data behind the feature gate (SQLite): one table per entry type. Creating a row
-- spends one unit of the feature of the same name in the same transaction.
-- entry_date is the calendar day as 'YYYY-MM-DD' text (sorts as a date); lists and exports
-- walk (profile_id, entry_date, id), so each table has that index.

CREATE TABLE weight_entries (
    id         TEXT PRIMARY KEY,
    profile_id TEXT NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    entry_date TEXT NOT NULL,
    note       TEXT,
    revision   INTEGER NOT NULL DEFAULT 1 CHECK (revision >= 1),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    weight_kg  REAL NOT NULL
);
CREATE INDEX weight_entries_profile_date_idx ON weight_entries (profile_id, entry_date, id);

CREATE TABLE circumference_entries (
    id         TEXT PRIMARY KEY,
    profile_id TEXT NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    entry_date TEXT NOT NULL,
    note       TEXT,
    revision   INTEGER NOT NULL DEFAULT 1 CHECK (revision >= 1),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    neck_cm    REAL,
    chest_cm   REAL,
    waist_cm   REAL,
    hip_cm     REAL,
    thigh_cm   REAL,
    arm_cm     REAL,
    calf_cm    REAL,
    CHECK (COALESCE(neck_cm, chest_cm, waist_cm, hip_cm, thigh_cm, arm_cm, calf_cm) IS NOT NULL)
);
CREATE INDEX circumference_entries_profile_date_idx
    ON circumference_entries (profile_id, entry_date, id);

-- Skinfolds in mm (the method's sites only; the others NULL) and the computed result.
CREATE TABLE caliper_entries (
    id             TEXT PRIMARY KEY,
    profile_id     TEXT NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    entry_date     TEXT NOT NULL,
    note           TEXT,
    revision       INTEGER NOT NULL DEFAULT 1 CHECK (revision >= 1),
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    method         TEXT NOT NULL CHECK (method IN ('jp3', 'jp7')),
    sex            TEXT NOT NULL CHECK (sex IN ('male', 'female')),
    age            INTEGER NOT NULL,
    chest_mm       REAL,
    midaxillary_mm REAL,
    triceps_mm     REAL,
    subscapular_mm REAL,
    abdomen_mm     REAL,
    suprailiac_mm  REAL,
    thigh_mm       REAL,
    body_density   REAL NOT NULL,
    body_fat_pct   REAL NOT NULL
);
CREATE INDEX caliper_entries_profile_date_idx ON caliper_entries (profile_id, entry_date, id);

CREATE TABLE nutrition_entries (
    id         TEXT PRIMARY KEY,
    profile_id TEXT NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    entry_date TEXT NOT NULL,
    note       TEXT,
    revision   INTEGER NOT NULL DEFAULT 1 CHECK (revision >= 1),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    kcal       REAL NOT NULL,
    protein_g  REAL NOT NULL,
    carbs_g    REAL NOT NULL,
    fat_g      REAL NOT NULL
);
CREATE INDEX nutrition_entries_profile_date_idx ON nutrition_entries (profile_id, entry_date, id);

CREATE TABLE activity_entries (
    id         TEXT PRIMARY KEY,
    profile_id TEXT NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    entry_date TEXT NOT NULL,
    note       TEXT,
    revision   INTEGER NOT NULL DEFAULT 1 CHECK (revision >= 1),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    kind       TEXT NOT NULL,
    minutes    INTEGER NOT NULL,
    kcal       REAL
);
CREATE INDEX activity_entries_profile_date_idx ON activity_entries (profile_id, entry_date, id);
