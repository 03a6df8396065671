-- Tracked data behind the feature gate (PostgreSQL): one table per entry type. Creating a row
-- spends one unit of the feature of the same name in the same transaction.
-- entry_date is the calendar day (DATE); lists and exports walk (profile_id, entry_date, id),
-- so each table has that index.

CREATE TABLE weight_entries (
    id         UUID PRIMARY KEY,
    profile_id UUID NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    entry_date DATE NOT NULL,
    note       TEXT,
    revision   BIGINT NOT NULL DEFAULT 1 CHECK (revision >= 1),
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    weight_kg  DOUBLE PRECISION NOT NULL
);
CREATE INDEX weight_entries_profile_date_idx ON weight_entries (profile_id, entry_date, id);

CREATE TABLE circumference_entries (
    id         UUID PRIMARY KEY,
    profile_id UUID NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    entry_date DATE NOT NULL,
    note       TEXT,
    revision   BIGINT NOT NULL DEFAULT 1 CHECK (revision >= 1),
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    neck_cm    DOUBLE PRECISION,
    chest_cm   DOUBLE PRECISION,
    waist_cm   DOUBLE PRECISION,
    hip_cm     DOUBLE PRECISION,
    thigh_cm   DOUBLE PRECISION,
    arm_cm     DOUBLE PRECISION,
    calf_cm    DOUBLE PRECISION,
    CHECK (COALESCE(neck_cm, chest_cm, waist_cm, hip_cm, thigh_cm, arm_cm, calf_cm) IS NOT NULL)
);
CREATE INDEX circumference_entries_profile_date_idx
    ON circumference_entries (profile_id, entry_date, id);

-- Skinfolds in mm (the method's sites only; the others NULL) and the computed result.
CREATE TABLE caliper_entries (
    id             UUID PRIMARY KEY,
    profile_id     UUID NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    entry_date     DATE NOT NULL,
    note           TEXT,
    revision       BIGINT NOT NULL DEFAULT 1 CHECK (revision >= 1),
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL,
    method         TEXT NOT NULL CHECK (method IN ('jp3', 'jp7')),
    sex            TEXT NOT NULL CHECK (sex IN ('male', 'female')),
    age            BIGINT NOT NULL,
    chest_mm       DOUBLE PRECISION,
    midaxillary_mm DOUBLE PRECISION,
    triceps_mm     DOUBLE PRECISION,
    subscapular_mm DOUBLE PRECISION,
    abdomen_mm     DOUBLE PRECISION,
    suprailiac_mm  DOUBLE PRECISION,
    thigh_mm       DOUBLE PRECISION,
    body_density   DOUBLE PRECISION NOT NULL,
    body_fat_pct   DOUBLE PRECISION NOT NULL
);
CREATE INDEX caliper_entries_profile_date_idx ON caliper_entries (profile_id, entry_date, id);

CREATE TABLE nutrition_entries (
    id         UUID PRIMARY KEY,
    profile_id UUID NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    entry_date DATE NOT NULL,
    note       TEXT,
    revision   BIGINT NOT NULL DEFAULT 1 CHECK (revision >= 1),
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    kcal       DOUBLE PRECISION NOT NULL,
    protein_g  DOUBLE PRECISION NOT NULL,
    carbs_g    DOUBLE PRECISION NOT NULL,
    fat_g      DOUBLE PRECISION NOT NULL
);
CREATE INDEX nutrition_entries_profile_date_idx ON nutrition_entries (profile_id, entry_date, id);

CREATE TABLE activity_entries (
    id         UUID PRIMARY KEY,
    profile_id UUID NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    entry_date DATE NOT NULL,
    note       TEXT,
    revision   BIGINT NOT NULL DEFAULT 1 CHECK (revision >= 1),
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    kind       TEXT NOT NULL,
    minutes    BIGINT NOT NULL,
    kcal       DOUBLE PRECISION
);
CREATE INDEX activity_entries_profile_date_idx ON activity_entries (profile_id, entry_date, id);
