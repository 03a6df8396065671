//! Coupons, redemptions and access grants, for both backends.

macro_rules! impl_coupons_store {
    ($store:ty) => {
        const COUPON_COLUMNS: &str = "id, code, display_code, kind, tier_id, duration_days, \
            valid_from, valid_until, period_ends_at, max_redemptions, redeemed_count, active, \
            campaign, note, created_by, created_at";

        const GRANT_SELECT: &str = "SELECT g.id, g.profile_id, g.tier_id, g.source, g.coupon_id, \
            c.display_code AS coupon_code, g.kind, g.starts_at, g.ends_at, g.duration_seconds, \
            g.created_by, g.created_at, g.revoked_at, g.revoked_by \
            FROM access_grants g LEFT JOIN coupons c ON c.id = g.coupon_id";

        const PAUSE_COLUMNS: &str =
            "p.id, p.grant_id, p.paused_at, p.paused_by, p.reason, p.resumed_at, p.resumed_by";

        fn coupon_from(row: &Row) -> $crate::Result<$crate::coupons::Coupon> {
            let kind: String = row.try_get("kind")?;
            Ok($crate::coupons::Coupon {
                id: uuid_of(row.try_get("id")?),
                code: row.try_get("code")?,
                display_code: row.try_get("display_code")?,
                kind: $crate::coupons::CouponKind::parse(&kind)
                    .ok_or_else(|| corrupt("coupon kind", &kind))?,
                tier_id: row.try_get("tier_id")?,
                duration_days: row.try_get("duration_days")?,
                valid_from: opt_ts(row.try_get("valid_from")?)?,
                valid_until: opt_ts(row.try_get("valid_until")?)?,
                period_ends_at: opt_ts(row.try_get("period_ends_at")?)?,
                max_redemptions: row.try_get("max_redemptions")?,
                redeemed_count: row.try_get("redeemed_count")?,
                active: row.try_get("active")?,
                campaign: row.try_get("campaign")?,
                note: row.try_get("note")?,
                created_by: row.try_get::<Option<IdRepr>, _>("created_by")?.map(uuid_of),
                created_at: ts_of(row.try_get("created_at")?)?,
            })
        }

        fn grant_from(row: &Row) -> $crate::Result<$crate::coupons::Grant> {
            let kind: String = row.try_get("kind")?;
            let span = match kind.as_str() {
                "fixed" => $crate::coupons::GrantSpan::Fixed {
                    starts_at: opt_ts(row.try_get("starts_at")?)?
                        .ok_or_else(|| corrupt("fixed grant without start", &kind))?,
                    ends_at: opt_ts(row.try_get("ends_at")?)?
                        .ok_or_else(|| corrupt("fixed grant without end", &kind))?,
                },
                "duration" => $crate::coupons::GrantSpan::Duration {
                    seconds: row
                        .try_get::<Option<i64>, _>("duration_seconds")?
                        .ok_or_else(|| corrupt("duration grant without seconds", &kind))?,
                },
                other => return Err(corrupt("grant kind", other)),
            };
            Ok($crate::coupons::Grant {
                id: uuid_of(row.try_get("id")?),
                profile_id: uuid_of(row.try_get("profile_id")?),
                tier_id: row.try_get("tier_id")?,
                source: row.try_get("source")?,
                coupon_id: row.try_get::<Option<IdRepr>, _>("coupon_id")?.map(uuid_of),
                coupon_code: row.try_get("coupon_code")?,
                span,
                created_by: row.try_get::<Option<IdRepr>, _>("created_by")?.map(uuid_of),
                created_at: ts_of(row.try_get("created_at")?)?,
                revoked_at: opt_ts(row.try_get("revoked_at")?)?,
                revoked_by: row.try_get::<Option<IdRepr>, _>("revoked_by")?.map(uuid_of),
                pauses: Vec::new(),
            })
        }

        fn pause_from(row: &Row) -> $crate::Result<(uuid::Uuid, $crate::coupons::GrantPause)> {
            Ok((
                uuid_of(row.try_get("grant_id")?),
                $crate::coupons::GrantPause {
                    id: uuid_of(row.try_get("id")?),
                    paused_at: ts_of(row.try_get("paused_at")?)?,
                    paused_by: row.try_get::<Option<IdRepr>, _>("paused_by")?.map(uuid_of),
                    reason: row.try_get("reason")?,
                    resumed_at: opt_ts(row.try_get("resumed_at")?)?,
                    resumed_by: row.try_get::<Option<IdRepr>, _>("resumed_by")?.map(uuid_of),
                },
            ))
        }

        /// Attaches pauses to their grants.
        fn with_pauses(
            mut grants: Vec<$crate::coupons::Grant>,
            pauses: Vec<(uuid::Uuid, $crate::coupons::GrantPause)>,
        ) -> Vec<$crate::coupons::Grant> {
            let index: std::collections::HashMap<uuid::Uuid, usize> =
                grants.iter().enumerate().map(|(i, g)| (g.id, i)).collect();
            for (grant_id, pause) in pauses {
                if let Some(&i) = index.get(&grant_id) {
                    grants[i].pauses.push(pause);
                }
            }
            grants
        }

        async fn insert_grant<'c, E>(exec: E, g: &$crate::coupons::NewGrant) -> $crate::Result<()>
        where
            E: sqlx::Executor<'c, Database = Db>,
        {
            let (kind, starts_at, ends_at, seconds) = match g.span {
                $crate::coupons::GrantSpan::Fixed { starts_at, ends_at } => {
                    ("fixed", Some(ts(starts_at)), Some(ts(ends_at)), None)
                }
                $crate::coupons::GrantSpan::Duration { seconds } => {
                    ("duration", None, None, Some(seconds))
                }
            };
            sqlx::query(
                "INSERT INTO access_grants (id, profile_id, tier_id, source, coupon_id, kind, \
                 starts_at, ends_at, duration_seconds, created_by, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(id(g.id))
            .bind(id(g.profile_id))
            .bind(&g.tier_id)
            .bind(&g.source)
            .bind(g.coupon_id.map(id))
            .bind(kind)
            .bind(starts_at)
            .bind(ends_at)
            .bind(seconds)
            .bind(g.created_by.map(id))
            .bind(ts(g.created_at))
            .execute(exec)
            .await
            .map_err(|e| on_constraint(e, "profile or tier"))?;
            Ok(())
        }

        /// Whether the profile of `r` has redeemed its coupon for its period key.
        async fn redeemed_already<'c, E>(
            exec: E,
            r: &$crate::coupons::Redeem,
        ) -> $crate::Result<bool>
        where
            E: sqlx::Executor<'c, Database = Db>,
        {
            let seen = sqlx::query(
                "SELECT 1 FROM coupon_redemptions \
                 WHERE coupon_id = $1 AND profile_id = $2 AND period_key = $3",
            )
            .bind(id(r.coupon_id))
            .bind(id(r.grant.profile_id))
            .bind(&r.period_key)
            .fetch_optional(exec)
            .await?;
            Ok(seen.is_some())
        }

        /// Whether a grant exists and is revoked: `None` if it does not exist.
        async fn grant_revoked<'c, E>(exec: E, grant_id: uuid::Uuid) -> $crate::Result<Option<bool>>
        where
            E: sqlx::Executor<'c, Database = Db>,
        {
            let row = sqlx::query("SELECT revoked_at FROM access_grants WHERE id = $1")
                .bind(id(grant_id))
                .fetch_optional(exec)
                .await?;
            match row {
                None => Ok(None),
                Some(row) => Ok(Some(row.try_get::<Option<TsRepr>, _>("revoked_at")?.is_some())),
            }
        }

        #[async_trait::async_trait]
        impl $crate::CouponStore for $store {
            async fn create_coupons(&self, coupons: &[$crate::coupons::Coupon]) -> $crate::Result<()> {
                let mut tx = self.begin_write().await?;
                for c in coupons {
                    sqlx::query(&format!(
                        "INSERT INTO coupons ({COUPON_COLUMNS}) VALUES \
                         ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
                    ))
                    .bind(id(c.id))
                    .bind(&c.code)
                    .bind(&c.display_code)
                    .bind(c.kind.as_str())
                    .bind(&c.tier_id)
                    .bind(c.duration_days)
                    .bind(c.valid_from.map(ts))
                    .bind(c.valid_until.map(ts))
                    .bind(c.period_ends_at.map(ts))
                    .bind(c.max_redemptions)
                    .bind(c.redeemed_count)
                    .bind(c.active)
                    .bind(&c.campaign)
                    .bind(&c.note)
                    .bind(c.created_by.map(id))
                    .bind(ts(c.created_at))
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| on_constraint_of(e, "code", "tier"))?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn coupon(&self, cid: uuid::Uuid) -> $crate::Result<Option<$crate::coupons::Coupon>> {
                sqlx::query(&format!("SELECT {COUPON_COLUMNS} FROM coupons WHERE id = $1"))
                    .bind(id(cid))
                    .fetch_optional(self.reader())
                    .await?
                    .as_ref()
                    .map(coupon_from)
                    .transpose()
            }

            async fn coupon_by_code(&self, code: &str) -> $crate::Result<Option<$crate::coupons::Coupon>> {
                sqlx::query(&format!("SELECT {COUPON_COLUMNS} FROM coupons WHERE code = $1"))
                    .bind(code)
                    .fetch_optional(self.reader())
                    .await?
                    .as_ref()
                    .map(coupon_from)
                    .transpose()
            }

            async fn list_coupons(
                &self,
                campaign: Option<&str>,
                after: Option<uuid::Uuid>,
                limit: i64,
            ) -> $crate::Result<Vec<$crate::coupons::Coupon>> {
                sqlx::query(&format!(
                    "SELECT {COUPON_COLUMNS} FROM coupons \
                     WHERE ($1 IS NULL OR campaign = $1) AND ($2 IS NULL OR id > $2) \
                     ORDER BY id LIMIT $3"
                ))
                .bind(campaign)
                .bind(after.map(id))
                .bind(limit)
                .fetch_all(self.reader())
                .await?
                .iter()
                .map(coupon_from)
                .collect()
            }

            async fn update_coupon(
                &self,
                cid: uuid::Uuid,
                p: &$crate::coupons::CouponPatch,
            ) -> $crate::Result<Option<$crate::coupons::Coupon>> {
                // Each optional field: a flag saying "set it" and the new value.
                sqlx::query(&format!(
                    "UPDATE coupons SET \
                        active = COALESCE($2, active), \
                        valid_from = CASE WHEN $3 THEN $4 ELSE valid_from END, \
                        valid_until = CASE WHEN $5 THEN $6 ELSE valid_until END, \
                        max_redemptions = CASE WHEN $7 THEN $8 ELSE max_redemptions END, \
                        campaign = CASE WHEN $9 THEN $10 ELSE campaign END, \
                        note = CASE WHEN $11 THEN $12 ELSE note END \
                     WHERE id = $1 RETURNING {COUPON_COLUMNS}"
                ))
                .bind(id(cid))
                .bind(p.active)
                .bind(p.valid_from.is_some())
                .bind(p.valid_from.flatten().map(ts))
                .bind(p.valid_until.is_some())
                .bind(p.valid_until.flatten().map(ts))
                .bind(p.max_redemptions.is_some())
                .bind(p.max_redemptions.flatten())
                .bind(p.campaign.is_some())
                .bind(p.campaign.clone().flatten())
                .bind(p.note.is_some())
                .bind(p.note.clone().flatten())
                .fetch_optional(self.writer())
                .await
                .map_err(|e| on_constraint(e, "max_redemptions below redeemed count"))?
                .as_ref()
                .map(coupon_from)
                .transpose()
            }

            async fn redemptions(
                &self,
                coupon_id: uuid::Uuid,
                after: Option<uuid::Uuid>,
                limit: i64,
            ) -> $crate::Result<Vec<$crate::coupons::Redemption>> {
                let rows = sqlx::query(
                    "SELECT r.id, r.coupon_id, r.profile_id, p.email, r.access_grant_id, \
                     r.redeemed_at, r.period_key FROM coupon_redemptions r \
                     JOIN profiles p ON p.id = r.profile_id \
                     WHERE r.coupon_id = $1 AND ($2 IS NULL OR r.id > $2) ORDER BY r.id LIMIT $3",
                )
                .bind(id(coupon_id))
                .bind(after.map(id))
                .bind(limit)
                .fetch_all(self.reader())
                .await?;
                rows.iter()
                    .map(|row| {
                        Ok($crate::coupons::Redemption {
                            id: uuid_of(row.try_get("id")?),
                            coupon_id: uuid_of(row.try_get("coupon_id")?),
                            profile_id: uuid_of(row.try_get("profile_id")?),
                            profile_email: row.try_get("email")?,
                            access_grant_id: row
                                .try_get::<Option<IdRepr>, _>("access_grant_id")?
                                .map(uuid_of),
                            redeemed_at: ts_of(row.try_get("redeemed_at")?)?,
                            period_key: row.try_get("period_key")?,
                        })
                    })
                    .collect()
            }

            async fn redeem(&self, r: &$crate::coupons::Redeem) -> $crate::Result<$crate::coupons::RedeemOutcome> {
                let _changed = self.cache.on_change();
                use $crate::coupons::RedeemOutcome;
                let profile_id = r.grant.profile_id;
                let mut tx = self.begin_write().await?;
                if redeemed_already(&mut *tx, r).await? {
                    tx.rollback().await?;
                    return Ok(RedeemOutcome::AlreadyRedeemed);
                }
                // Take a slot: one conditional update, so the counter never passes the cap
                // however many redeem at once.
                let took = sqlx::query(
                    "UPDATE coupons SET redeemed_count = redeemed_count + 1 \
                     WHERE id = $1 AND active \
                       AND (valid_from IS NULL OR valid_from <= $2) \
                       AND (valid_until IS NULL OR valid_until >= $2) \
                       AND (max_redemptions IS NULL OR redeemed_count < max_redemptions) \
                     RETURNING id",
                )
                .bind(id(r.coupon_id))
                .bind(ts(r.now))
                .fetch_optional(&mut *tx)
                .await?;
                if took.is_none() {
                    // A race with this profile's own redemption (a double submit) may have
                    // taken the last slot after the check above; answer as if it came first.
                    // The update waited for that transaction, so this read sees it.
                    if redeemed_already(&mut *tx, r).await? {
                        tx.rollback().await?;
                        return Ok(RedeemOutcome::AlreadyRedeemed);
                    }
                    let row = sqlx::query(
                        "SELECT active, valid_from, valid_until, max_redemptions, redeemed_count \
                         FROM coupons WHERE id = $1",
                    )
                    .bind(id(r.coupon_id))
                    .fetch_optional(&mut *tx)
                    .await?;
                    tx.rollback().await?;
                    let Some(row) = row else {
                        return Ok(RedeemOutcome::Invalid);
                    };
                    if !row.try_get::<bool, _>("active")? {
                        return Ok(RedeemOutcome::Invalid);
                    }
                    let from = opt_ts(row.try_get("valid_from")?)?;
                    let until = opt_ts(row.try_get("valid_until")?)?;
                    if from.is_some_and(|f| r.now < f) || until.is_some_and(|u| r.now > u) {
                        return Ok(RedeemOutcome::Expired);
                    }
                    return Ok(RedeemOutcome::Exhausted);
                }
                insert_grant(&mut *tx, &r.grant).await?;
                let recorded = sqlx::query(
                    "INSERT INTO coupon_redemptions (id, coupon_id, profile_id, access_grant_id, \
                     redeemed_at, period_key) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(id(r.redemption_id))
                .bind(id(r.coupon_id))
                .bind(id(profile_id))
                .bind(id(r.grant.id))
                .bind(ts(r.now))
                .bind(&r.period_key)
                .execute(&mut *tx)
                .await;
                match recorded.map_err(|e| on_constraint(e, "redemption")) {
                    Ok(_) => {}
                    Err(StoreError::Conflict(_)) => {
                        // The same profile won a race with itself; this attempt changes nothing.
                        tx.rollback().await?;
                        return Ok(RedeemOutcome::AlreadyRedeemed);
                    }
                    Err(e) => return Err(e),
                }
                let grant = sqlx::query(&format!("{GRANT_SELECT} WHERE g.id = $1"))
                    .bind(id(r.grant.id))
                    .fetch_one(&mut *tx)
                    .await?;
                let grant = grant_from(&grant)?;
                if let Some(activity) = &r.activity {
                    log_activity_in(&mut tx, activity).await?;
                }
                if let Some(mail) = &r.mail {
                    enqueue_mail_in(&mut *tx, mail).await?;
                }
                tx.commit().await?;
                Ok(RedeemOutcome::Redeemed(Box::new(grant)))
            }

            async fn create_grant(&self, g: &$crate::coupons::NewGrant) -> $crate::Result<$crate::coupons::Grant> {
                let _changed = self.cache.on_change();
                let mut tx = self.begin_write().await?;
                insert_grant(&mut *tx, g).await?;
                let row = sqlx::query(&format!("{GRANT_SELECT} WHERE g.id = $1"))
                    .bind(id(g.id))
                    .fetch_one(&mut *tx)
                    .await?;
                tx.commit().await?;
                grant_from(&row)
            }

            async fn grant(&self, gid: uuid::Uuid) -> $crate::Result<Option<$crate::coupons::Grant>> {
                let Some(row) = sqlx::query(&format!("{GRANT_SELECT} WHERE g.id = $1"))
                    .bind(id(gid))
                    .fetch_optional(self.reader())
                    .await?
                else {
                    return Ok(None);
                };
                let grant = grant_from(&row)?;
                let pauses = sqlx::query(&format!(
                    "SELECT {PAUSE_COLUMNS} FROM grant_pauses p WHERE p.grant_id = $1 \
                     ORDER BY p.paused_at, p.id"
                ))
                .bind(id(gid))
                .fetch_all(self.reader())
                .await?
                .iter()
                .map(pause_from)
                .collect::<$crate::Result<Vec<_>>>()?;
                Ok(with_pauses(vec![grant], pauses).pop())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn grants(&self, profile_id: uuid::Uuid) -> $crate::Result<Vec<$crate::coupons::Grant>> {
                if let Some(cached) = self.cache.grants(profile_id) {
                    return Ok(cached);
                }
                let generation = self.cache.generation();
                let grants = sqlx::query(&format!(
                    "{GRANT_SELECT} WHERE g.profile_id = $1 ORDER BY g.created_at, g.id"
                ))
                .bind(id(profile_id))
                .fetch_all(self.reader())
                .await?
                .iter()
                .map(grant_from)
                .collect::<$crate::Result<Vec<_>>>()?;
                if grants.is_empty() {
                    self.cache.put_grants(profile_id, &grants, generation);
                    return Ok(grants);
                }
                let pauses = sqlx::query(&format!(
                    "SELECT {PAUSE_COLUMNS} FROM grant_pauses p \
                     JOIN access_grants g ON g.id = p.grant_id \
                     WHERE g.profile_id = $1 ORDER BY p.paused_at, p.id"
                ))
                .bind(id(profile_id))
                .fetch_all(self.reader())
                .await?
                .iter()
                .map(pause_from)
                .collect::<$crate::Result<Vec<_>>>()?;
                let grants = with_pauses(grants, pauses);
                self.cache.put_grants(profile_id, &grants, generation);
                Ok(grants)
            }

            async fn grants_of(
                &self,
                profile_ids: &[uuid::Uuid],
            ) -> $crate::Result<Vec<$crate::coupons::Grant>> {
                let mut out = Vec::new();
                for chunk in profile_ids.chunks(500) {
                    let list = (1..=chunk.len())
                        .map(|n| format!("${n}"))
                        .collect::<Vec<_>>()
                        .join(", ");
                    let grants_sql = format!(
                        "{GRANT_SELECT} WHERE g.profile_id IN ({list}) \
                         ORDER BY g.profile_id, g.created_at, g.id"
                    );
                    let mut q = sqlx::query(&grants_sql);
                    for pid in chunk {
                        q = q.bind(id(*pid));
                    }
                    let grants = q
                        .fetch_all(self.reader())
                        .await?
                        .iter()
                        .map(grant_from)
                        .collect::<$crate::Result<Vec<_>>>()?;
                    if grants.is_empty() {
                        continue;
                    }
                    let pauses_sql = format!(
                        "SELECT {PAUSE_COLUMNS} FROM grant_pauses p \
                         JOIN access_grants g ON g.id = p.grant_id \
                         WHERE g.profile_id IN ({list}) ORDER BY p.paused_at, p.id"
                    );
                    let mut q = sqlx::query(&pauses_sql);
                    for pid in chunk {
                        q = q.bind(id(*pid));
                    }
                    let pauses = q
                        .fetch_all(self.reader())
                        .await?
                        .iter()
                        .map(pause_from)
                        .collect::<$crate::Result<Vec<_>>>()?;
                    out.extend(with_pauses(grants, pauses));
                }
                Ok(out)
            }

            async fn pause_grant(
                &self,
                gid: uuid::Uuid,
                by: Option<uuid::Uuid>,
                reason: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::Result<$crate::coupons::GrantChange> {
                let _changed = self.cache.on_change();
                use $crate::coupons::GrantChange;
                let mut tx = self.begin_write().await?;
                match grant_revoked(&mut *tx, gid).await? {
                    None => return Ok(GrantChange::NotFound),
                    Some(true) => return Ok(GrantChange::Revoked),
                    Some(false) => {}
                }
                // At most one open pause per grant (partial unique index).
                let done = sqlx::query(
                    "INSERT INTO grant_pauses (id, grant_id, paused_at, paused_by, reason) \
                     VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (grant_id) WHERE resumed_at IS NULL DO NOTHING",
                )
                .bind(id(uuid::Uuid::now_v7()))
                .bind(id(gid))
                .bind(ts(now))
                .bind(by.map(id))
                .bind(reason)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(if done.rows_affected() == 1 {
                    GrantChange::Done
                } else {
                    GrantChange::NoChange
                })
            }

            async fn resume_grant(
                &self,
                gid: uuid::Uuid,
                by: Option<uuid::Uuid>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::Result<$crate::coupons::GrantChange> {
                let _changed = self.cache.on_change();
                use $crate::coupons::GrantChange;
                let mut tx = self.begin_write().await?;
                match grant_revoked(&mut *tx, gid).await? {
                    None => return Ok(GrantChange::NotFound),
                    Some(true) => return Ok(GrantChange::Revoked),
                    Some(false) => {}
                }
                let done = sqlx::query(
                    "UPDATE grant_pauses SET resumed_at = $2, resumed_by = $3 \
                     WHERE grant_id = $1 AND resumed_at IS NULL",
                )
                .bind(id(gid))
                .bind(ts(now))
                .bind(by.map(id))
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(if done.rows_affected() == 1 {
                    GrantChange::Done
                } else {
                    GrantChange::NoChange
                })
            }

            async fn revoke_grant(
                &self,
                gid: uuid::Uuid,
                by: Option<uuid::Uuid>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::Result<$crate::coupons::GrantChange> {
                let _changed = self.cache.on_change();
                use $crate::coupons::GrantChange;
                let done = sqlx::query(
                    "UPDATE access_grants SET revoked_at = $2, revoked_by = $3 \
                     WHERE id = $1 AND revoked_at IS NULL",
                )
                .bind(id(gid))
                .bind(ts(now))
                .bind(by.map(id))
                .execute(self.writer())
                .await?;
                if done.rows_affected() == 1 {
                    return Ok(GrantChange::Done);
                }
                Ok(match grant_revoked(self.reader(), gid).await? {
                    None => GrantChange::NotFound,
                    Some(_) => GrantChange::Revoked,
                })
            }

            async fn rate_limit_hit(
                &self,
                bucket: &str,
                window_start: chrono::DateTime<chrono::Utc>,
            ) -> $crate::Result<i64> {
                let hits: i64 = sqlx::query_scalar(
                    "INSERT INTO rate_limits (bucket, window_start, hits) VALUES ($1, $2, 1) \
                     ON CONFLICT (bucket, window_start) DO UPDATE SET hits = rate_limits.hits + 1 \
                     RETURNING hits",
                )
                .bind(bucket)
                .bind(ts(window_start))
                .fetch_one(self.writer())
                .await?;
                Ok(hits)
            }

            async fn rate_limit_take(
                &self,
                bucket: &str,
                window_start: chrono::DateTime<chrono::Utc>,
                max: i64,
            ) -> $crate::Result<bool> {
                if max <= 0 {
                    return Ok(false);
                }
                let taken: Option<i64> = sqlx::query_scalar(
                    "INSERT INTO rate_limits (bucket, window_start, hits) VALUES ($1, $2, 1) \
                     ON CONFLICT (bucket, window_start) DO UPDATE SET hits = rate_limits.hits + 1 \
                     WHERE rate_limits.hits < $3 \
                     RETURNING hits",
                )
                .bind(bucket)
                .bind(ts(window_start))
                .bind(max)
                .fetch_optional(self.writer())
                .await?;
                Ok(taken.is_some())
            }

            async fn rate_limit_refund(
                &self,
                bucket: &str,
                window_start: chrono::DateTime<chrono::Utc>,
            ) -> $crate::Result<()> {
                sqlx::query(
                    "UPDATE rate_limits SET hits = hits - 1 \
                     WHERE bucket = $1 AND window_start = $2 AND hits > 0",
                )
                .bind(bucket)
                .bind(ts(window_start))
                .execute(self.writer())
                .await?;
                Ok(())
            }

            async fn rate_limit_count(
                &self,
                bucket: &str,
                window_start: chrono::DateTime<chrono::Utc>,
            ) -> $crate::Result<i64> {
                let hits: Option<i64> = sqlx::query_scalar(
                    "SELECT hits FROM rate_limits WHERE bucket = $1 AND window_start = $2",
                )
                .bind(bucket)
                .bind(ts(window_start))
                .fetch_optional(self.reader())
                .await?;
                Ok(hits.unwrap_or(0))
            }
        }
    };
}
