-- Progress photos and AI results (SQLite). Both are per-profile data behind the feature gate.

-- A photo's bytes live in a file under MITAI_DATA_DIR (photos/<profile>/<id>.<ext>); this row
-- is its metadata. The row and the spend of `photos` commit together.
CREATE TABLE photos (
    id           TEXT PRIMARY KEY,
    profile_id   TEXT NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    content_type TEXT NOT NULL CHECK (content_type IN ('image/jpeg', 'image/png', 'image/webp')),
    width        INTEGER NOT NULL CHECK (width > 0),
    height       INTEGER NOT NULL CHECK (height > 0),
    bytes        INTEGER NOT NULL CHECK (bytes >= 0),
    sha256       TEXT NOT NULL,
    taken_on     TEXT,
    note         TEXT,
    created_at   TEXT NOT NULL
);
-- Lists are per profile, newest first by id (UUIDv7).
CREATE INDEX photos_profile_id_idx ON photos (profile_id, id);

-- Answers of the AI: single insights and multi-step pipeline runs (steps as JSON).
CREATE TABLE ai_results (
    id         TEXT PRIMARY KEY,
    profile_id TEXT NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL CHECK (kind IN ('insight', 'pipeline')),
    question   TEXT,
    answer     TEXT NOT NULL,
    model      TEXT NOT NULL,
    steps      TEXT NOT NULL DEFAULT '[]',
    created_at TEXT NOT NULL
);
CREATE INDEX ai_results_profile_id_idx ON ai_results (profile_id, id);
CREATE INDEX ai_results_profile_kind_id_idx ON ai_results (profile_id, kind, id);
