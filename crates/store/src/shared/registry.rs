//! Features, tiers, the matrix and settings, for both backends.

macro_rules! impl_registry_store {
    ($store:ty) => {
        fn feature_from(row: &Row) -> $crate::Result<mitai_access::Feature> {
            let kind: String = row.try_get("kind")?;
            let period: String = row.try_get("reset_period")?;
            Ok(mitai_access::Feature {
                id: row.try_get("id")?,
                name: row.try_get("name")?,
                description: row.try_get("description")?,
                category: row.try_get("category")?,
                kind: mitai_access::FeatureKind::parse(&kind)
                    .ok_or_else(|| corrupt("feature kind", &kind))?,
                unit: row.try_get("unit")?,
                reset_period: mitai_access::ResetPeriod::parse(&period)
                    .ok_or_else(|| corrupt("reset period", &period))?,
                default_limit: row.try_get("default_limit")?,
                active: row.try_get("active")?,
                sort_order: row.try_get("sort_order")?,
            })
        }

        fn tier_from(row: &Row) -> $crate::Result<mitai_access::Tier> {
            Ok(mitai_access::Tier {
                id: row.try_get("id")?,
                name: row.try_get("name")?,
                description: row.try_get("description")?,
                rank: row.try_get("rank")?,
                active: row.try_get("active")?,
                sort_order: row.try_get("sort_order")?,
            })
        }

        fn setting_from(row: &Row) -> $crate::Result<Setting> {
            let value: sqlx::types::Json<serde_json::Value> = row.try_get("value")?;
            Ok(Setting {
                key: row.try_get("key")?,
                value: value.0,
                updated_at: ts_of(row.try_get("updated_at")?)?,
                updated_by: row.try_get::<Option<IdRepr>, _>("updated_by")?.map(uuid_of),
            })
        }


        #[async_trait::async_trait]
        impl $crate::RegistryStore for $store {
            async fn registry_snapshot(&self) -> $crate::Result<RegistrySnapshot> {
                let features = sqlx::query(&format!("SELECT {FEATURE_COLUMNS} FROM features"))
                    .fetch_all(self.reader())
                    .await?
                    .iter()
                    .map(feature_from)
                    .collect::<$crate::Result<Vec<_>>>()?;
                let tiers = sqlx::query(&format!("SELECT {TIER_COLUMNS} FROM tiers"))
                    .fetch_all(self.reader())
                    .await?
                    .iter()
                    .map(tier_from)
                    .collect::<$crate::Result<Vec<_>>>()?;
                let limits = sqlx::query("SELECT tier_id, feature_id, usage_limit FROM tier_limits")
                    .fetch_all(self.reader())
                    .await?
                    .iter()
                    .map(|row| {
                        Ok(mitai_access::TierLimit {
                            tier_id: row.try_get("tier_id")?,
                            feature_id: row.try_get("feature_id")?,
                            limit: row.try_get("usage_limit")?,
                        })
                    })
                    .collect::<$crate::Result<Vec<_>>>()?;
                let settings =
                    sqlx::query("SELECT key, value, updated_at, updated_by FROM app_settings")
                        .fetch_all(self.reader())
                        .await?
                        .iter()
                        .map(setting_from)
                        .collect::<$crate::Result<Vec<_>>>()?;
                Ok(RegistrySnapshot {
                    features,
                    tiers,
                    limits,
                    settings,
                })
            }

            async fn notify_registry_changed(&self) -> $crate::Result<()> {
                self.notify_impl().await
            }

            async fn registry_changes(&self) -> $crate::Result<Option<$crate::ChangeStream>> {
                self.changes_impl().await
            }

            async fn create_feature(
                &self,
                f: &mitai_access::Feature,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::Result<()> {
                sqlx::query(
                    "INSERT INTO features (id, name, description, category, kind, unit, \
                     reset_period, default_limit, active, sort_order, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)",
                )
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
                .bind(ts(now))
                .execute(self.writer())
                .await
                .map_err(|e| on_constraint(e, "feature"))?;
                Ok(())
            }

            async fn update_feature(
                &self,
                f: &mitai_access::Feature,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::Result<bool> {
                let done = sqlx::query(
                    "UPDATE features SET name = $2, description = $3, category = $4, kind = $5, \
                     unit = $6, reset_period = $7, default_limit = $8, active = $9, \
                     sort_order = $10, updated_at = $11 WHERE id = $1",
                )
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
                .bind(ts(now))
                .execute(self.writer())
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn create_tier(
                &self,
                t: &mitai_access::Tier,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::Result<()> {
                sqlx::query(
                    "INSERT INTO tiers (id, name, description, rank, active, sort_order, \
                     created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
                )
                .bind(&t.id)
                .bind(&t.name)
                .bind(&t.description)
                .bind(t.rank)
                .bind(t.active)
                .bind(t.sort_order)
                .bind(ts(now))
                .execute(self.writer())
                .await
                .map_err(|e| on_constraint(e, "tier"))?;
                Ok(())
            }

            async fn update_tier(
                &self,
                t: &mitai_access::Tier,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::Result<bool> {
                let done = sqlx::query(
                    "UPDATE tiers SET name = $2, description = $3, rank = $4, active = $5, \
                     sort_order = $6, updated_at = $7 WHERE id = $1",
                )
                .bind(&t.id)
                .bind(&t.name)
                .bind(&t.description)
                .bind(t.rank)
                .bind(t.active)
                .bind(t.sort_order)
                .bind(ts(now))
                .execute(self.writer())
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn set_tier_limit(
                &self,
                tier_id: &str,
                feature_id: &str,
                limit: mitai_access::Limit,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::Result<()> {
                sqlx::query(
                    "INSERT INTO tier_limits (tier_id, feature_id, usage_limit, updated_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (tier_id, feature_id) DO UPDATE \
                     SET usage_limit = excluded.usage_limit, updated_at = excluded.updated_at",
                )
                .bind(tier_id)
                .bind(feature_id)
                .bind(limit)
                .bind(ts(now))
                .execute(self.writer())
                .await
                .map_err(|e| on_constraint(e, "tier or feature"))?;
                Ok(())
            }

            async fn delete_tier_limit(&self, tier_id: &str, feature_id: &str) -> $crate::Result<bool> {
                let done = sqlx::query("DELETE FROM tier_limits WHERE tier_id = $1 AND feature_id = $2")
                    .bind(tier_id)
                    .bind(feature_id)
                    .execute(self.writer())
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn set_setting(
                &self,
                key: &str,
                value: &serde_json::Value,
                by: Option<uuid::Uuid>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::Result<Setting> {
                let row = sqlx::query(
                    "INSERT INTO app_settings (key, value, updated_at, updated_by) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (key) DO UPDATE \
                     SET value = excluded.value, updated_at = excluded.updated_at, \
                         updated_by = excluded.updated_by \
                     RETURNING key, value, updated_at, updated_by",
                )
                .bind(key)
                .bind(sqlx::types::Json(value))
                .bind(ts(now))
                .bind(by.map(id))
                .fetch_one(self.writer())
                .await?;
                setting_from(&row)
            }
        }
    };
}
