//! Features, tiers, the matrix and settings.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use const_format::concatcp;
use mitai_access::{Feature, FeatureKind, Limit, ResetPeriod, Tier, TierLimit};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use super::{Engine, SqlStore};
use crate::sql::{Row, corrupt, on_constraint, query};
use crate::{ChangeStream, RegistrySnapshot, Result, Setting};

const FEATURE_COLUMNS: &str = "id, name, description, category, kind, unit, \
    reset_period, default_limit, active, sort_order";

const TIER_COLUMNS: &str = "id, name, description, rank, active, sort_order";

const SETTING_COLUMNS: &str = "key, value, updated_at, updated_by";

const FEATURES: &str = concatcp!("SELECT ", FEATURE_COLUMNS, " FROM features");
const TIERS: &str = concatcp!("SELECT ", TIER_COLUMNS, " FROM tiers");
const LIMITS: &str = "SELECT tier_id, feature_id, usage_limit FROM tier_limits";
const SETTINGS: &str = concatcp!("SELECT ", SETTING_COLUMNS, " FROM app_settings");

const INSERT_FEATURE: &str = "INSERT INTO features (id, name, description, category, kind, \
    unit, reset_period, default_limit, active, sort_order, created_at, updated_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)";

const UPDATE_FEATURE: &str = "UPDATE features SET name = $2, description = $3, category = $4, \
    kind = $5, unit = $6, reset_period = $7, default_limit = $8, active = $9, \
    sort_order = $10, updated_at = $11 WHERE id = $1";

const INSERT_TIER: &str = "INSERT INTO tiers (id, name, description, rank, active, \
    sort_order, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)";

const UPDATE_TIER: &str = "UPDATE tiers SET name = $2, description = $3, rank = $4, \
    active = $5, sort_order = $6, updated_at = $7 WHERE id = $1";

const SET_TIER_LIMIT: &str = "INSERT INTO tier_limits (tier_id, feature_id, usage_limit, \
    updated_at) VALUES ($1, $2, $3, $4) ON CONFLICT (tier_id, feature_id) DO UPDATE \
    SET usage_limit = excluded.usage_limit, updated_at = excluded.updated_at";

const DELETE_TIER_LIMIT: &str = "DELETE FROM tier_limits WHERE tier_id = $1 AND feature_id = $2";

const SET_SETTING: &str = concatcp!(
    "INSERT INTO app_settings (key, value, updated_at, updated_by) \
     VALUES ($1, $2, $3, $4) ON CONFLICT (key) DO UPDATE \
     SET value = excluded.value, updated_at = excluded.updated_at, \
         updated_by = excluded.updated_by \
     RETURNING ",
    SETTING_COLUMNS
);

fn feature_from(row: &Row) -> Result<Feature> {
    let kind: String = row.get("kind")?;
    let period: String = row.get("reset_period")?;
    Ok(Feature {
        id: row.get("id")?,
        name: row.get("name")?,
        description: row.get("description")?,
        category: row.get("category")?,
        kind: FeatureKind::parse(&kind).ok_or_else(|| corrupt("feature kind", &kind))?,
        unit: row.get("unit")?,
        reset_period: ResetPeriod::parse(&period)
            .ok_or_else(|| corrupt("reset period", &period))?,
        default_limit: row.get("default_limit")?,
        active: row.get("active")?,
        sort_order: row.get("sort_order")?,
    })
}

fn tier_from(row: &Row) -> Result<Tier> {
    Ok(Tier {
        id: row.get("id")?,
        name: row.get("name")?,
        description: row.get("description")?,
        rank: row.get("rank")?,
        active: row.get("active")?,
        sort_order: row.get("sort_order")?,
    })
}

fn limit_from(row: &Row) -> Result<TierLimit> {
    Ok(TierLimit {
        tier_id: row.get("tier_id")?,
        feature_id: row.get("feature_id")?,
        limit: row.get("usage_limit")?,
    })
}

fn setting_from(row: &Row) -> Result<Setting> {
    Ok(Setting {
        key: row.get("key")?,
        value: row.get("value")?,
        updated_at: row.get("updated_at")?,
        updated_by: row.get("updated_by")?,
    })
}

#[async_trait]
impl crate::RegistryStore for SqlStore {
    async fn registry_snapshot(&self) -> Result<RegistrySnapshot> {
        let features = query(FEATURES).fetch_all(self.reader()).await?;
        let tiers = query(TIERS).fetch_all(self.reader()).await?;
        let limits = query(LIMITS).fetch_all(self.reader()).await?;
        let settings = query(SETTINGS).fetch_all(self.reader()).await?;
        Ok(RegistrySnapshot {
            features: features.iter().map(feature_from).collect::<Result<_>>()?,
            tiers: tiers.iter().map(tier_from).collect::<Result<_>>()?,
            limits: limits.iter().map(limit_from).collect::<Result<_>>()?,
            settings: settings.iter().map(setting_from).collect::<Result<_>>()?,
        })
    }

    async fn notify_registry_changed(&self) -> Result<()> {
        match &self.engine {
            Engine::Postgres(pg) => pg.notify().await,
            // One instance serves a SQLite file: nobody to tell.
            Engine::Sqlite(_) => Ok(()),
        }
    }

    async fn registry_changes(&self) -> Result<Option<ChangeStream>> {
        match &self.engine {
            Engine::Postgres(pg) => pg.changes().await,
            Engine::Sqlite(_) => Ok(None),
        }
    }

    async fn create_feature(&self, f: &Feature, now: DateTime<Utc>) -> Result<()> {
        query(INSERT_FEATURE)
            .bind(&f.id)
            .bind(&f.name)
            .bind(&f.description)
            .bind(&f.category)
            .bind(f.kind.as_str())
            .bind(&f.unit)
            .bind(f.reset_period.as_str())
            .bind(f.default_limit)
            .bind(f.active)
            .bind(f.sort_order)
            .bind(now)
            .execute(self.writer())
            .await
            .map_err(|e| on_constraint(e, "feature"))?;
        Ok(())
    }

    async fn update_feature(&self, f: &Feature, now: DateTime<Utc>) -> Result<bool> {
        let done = query(UPDATE_FEATURE)
            .bind(&f.id)
            .bind(&f.name)
            .bind(&f.description)
            .bind(&f.category)
            .bind(f.kind.as_str())
            .bind(&f.unit)
            .bind(f.reset_period.as_str())
            .bind(f.default_limit)
            .bind(f.active)
            .bind(f.sort_order)
            .bind(now)
            .execute(self.writer())
            .await?;
        Ok(done == 1)
    }

    async fn create_tier(&self, t: &Tier, now: DateTime<Utc>) -> Result<()> {
        query(INSERT_TIER)
            .bind(&t.id)
            .bind(&t.name)
            .bind(&t.description)
            .bind(t.rank)
            .bind(t.active)
            .bind(t.sort_order)
            .bind(now)
            .execute(self.writer())
            .await
            .map_err(|e| on_constraint(e, "tier"))?;
        Ok(())
    }

    async fn update_tier(&self, t: &Tier, now: DateTime<Utc>) -> Result<bool> {
        let done = query(UPDATE_TIER)
            .bind(&t.id)
            .bind(&t.name)
            .bind(&t.description)
            .bind(t.rank)
            .bind(t.active)
            .bind(t.sort_order)
            .bind(now)
            .execute(self.writer())
            .await?;
        Ok(done == 1)
    }

    async fn set_tier_limit(
        &self,
        tier_id: &str,
        feature_id: &str,
        limit: Limit,
        now: DateTime<Utc>,
    ) -> Result<()> {
        query(SET_TIER_LIMIT)
            .bind(tier_id)
            .bind(feature_id)
            .bind(limit)
            .bind(now)
            .execute(self.writer())
            .await
            .map_err(|e| on_constraint(e, "tier or feature"))?;
        Ok(())
    }

    async fn delete_tier_limit(&self, tier_id: &str, feature_id: &str) -> Result<bool> {
        let done = query(DELETE_TIER_LIMIT)
            .bind(tier_id)
            .bind(feature_id)
            .execute(self.writer())
            .await?;
        Ok(done == 1)
    }

    async fn set_setting(
        &self,
        key: &str,
        value: &Value,
        by: Option<Uuid>,
        now: DateTime<Utc>,
    ) -> Result<Setting> {
        let row = query(SET_SETTING)
            .bind(key)
            .bind(Json(value))
            .bind(now)
            .bind(by)
            .fetch_one(self.writer())
            .await?;
        setting_from(&row)
    }
}
