//! The application's state, shared by every request: the store (private to the service
//! functions), the cached registry, the clock, the configuration, the mail transport and
//! the AI client.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

use chrono::{DateTime, TimeDelta, Utc};
use futures::StreamExt;
use mitai_access::{Registry, Settings};
use mitai_store::Store;

use crate::config::Config;

/// The server's notion of "now": real time, or with the test clock
/// (`MITAI_TEST_CLOCK=1`) a frozen instant that only the test-clock route moves, and only
/// forward, so tests see exact instants.
#[derive(Debug)]
pub struct Clock {
    /// `None`: real time. `Some`: the frozen instant in microseconds since the epoch.
    frozen_micros: Option<AtomicI64>,
}

impl Clock {
    pub fn real() -> Clock {
        Clock {
            frozen_micros: None,
        }
    }

    /// A test clock frozen at the current real time (whole seconds).
    pub fn frozen() -> Clock {
        Clock {
            frozen_micros: Some(AtomicI64::new(Utc::now().timestamp() * 1_000_000)),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        match &self.frozen_micros {
            Some(micros) => DateTime::from_timestamp_micros(micros.load(Ordering::SeqCst))
                .unwrap_or_else(Utc::now),
            // Storage keeps microseconds; so does the clock, so that what is stored
            // compares equal to what was computed.
            None => {
                let now = Utc::now();
                DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
            }
        }
    }

    /// Moves a test clock forward by `delta` (callers refuse negative deltas); a real
    /// clock does not move.
    pub fn advance(&self, delta: TimeDelta) {
        if let Some(micros) = &self.frozen_micros {
            let delta = delta.num_microseconds().unwrap_or(i64::MAX / 4);
            micros.fetch_add(delta, Ordering::SeqCst);
        }
    }
}

/// The registry (features, tiers, matrix, settings) kept in memory, rebuilt on change.
#[derive(Debug)]
pub struct RegistryCache {
    current: RwLock<Arc<Registry>>,
}

impl RegistryCache {
    pub fn get(&self) -> Arc<Registry> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn set(&self, registry: Registry) {
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(registry);
    }
}

pub async fn load_registry(store: &dyn Store) -> mitai_store::Result<Registry> {
    let snapshot = store.registry_snapshot().await?;
    let settings =
        Settings::from_pairs(snapshot.settings.iter().map(|s| (s.key.as_str(), &s.value)));
    Ok(Registry::new(
        snapshot.features,
        snapshot.tiers,
        &snapshot.limits,
        settings,
    ))
}

pub struct Inner {
    /// The database, reachable only from the service functions: every page and handler
    /// goes through them.
    pub(in crate::service) store: Arc<dyn Store>,
    pub registry: RegistryCache,
    pub clock: Clock,
    pub config: Config,
    pub metrics: crate::metrics::Metrics,
    /// Where the send job delivers mail (`MITAI_MAIL`).
    pub mailer: crate::mail::Transport,
    /// The AI provider (`MITAI_AI_URL`); `None` when none is configured.
    pub ai: Option<crate::ai::AiClient>,
    /// Stripe (`MITAI_STRIPE_*`); `None` when payments are off.
    pub stripe: Option<crate::stripe::Stripe>,
    /// What the global figures keep between requests.
    pub stats: crate::service::activity_log::StatsCache,
}

/// Cheap to clone; every handler gets one.
#[derive(Clone)]
pub struct AppState(pub Arc<Inner>);

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// Builds the state with the mail transport of the configuration, and loads the
    /// registry.
    pub async fn new(store: Arc<dyn Store>, config: Config) -> anyhow::Result<AppState> {
        let mailer = crate::mail::Transport::from_config(&config.mail)?;
        AppState::with_mailer(store, config, mailer).await
    }

    /// Builds the state with a given mail transport (tests use `Transport::memory()`).
    pub async fn with_mailer(
        store: Arc<dyn Store>,
        config: Config,
        mailer: crate::mail::Transport,
    ) -> anyhow::Result<AppState> {
        let registry = load_registry(store.as_ref()).await?;
        let ai = config
            .ai
            .as_ref()
            .map(crate::ai::AiClient::new)
            .transpose()?;
        let stripe = config.stripe.as_ref().map(crate::stripe::Stripe::new);
        Ok(AppState(Arc::new(Inner {
            store,
            registry: RegistryCache {
                current: RwLock::new(Arc::new(registry)),
            },
            clock: if config.test_clock {
                Clock::frozen()
            } else {
                Clock::real()
            },
            config,
            metrics: Default::default(),
            mailer,
            ai,
            stripe,
            stats: Default::default(),
        })))
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub fn registry(&self) -> Arc<Registry> {
        self.registry.get()
    }

    /// Reloads the registry after this instance changed it, and tells the others.
    pub async fn registry_changed(&self) -> mitai_store::Result<()> {
        self.reload_registry().await?;
        self.store.notify_registry_changed().await
    }

    pub async fn reload_registry(&self) -> mitai_store::Result<()> {
        let registry = load_registry(self.store.as_ref()).await?;
        self.registry.set(registry);
        Ok(())
    }

    /// Follows registry changes made by other instances (PostgreSQL `LISTEN/NOTIFY`).
    /// Returns when the store offers no change feed (SQLite: one instance only). When the
    /// feed ends — its connection failed, the database went away — it listens again (every
    /// second until that works) and reads the registry once, since a change may have come
    /// while nobody listened.
    pub async fn follow_registry_changes(self) {
        let mut first = true;
        loop {
            let mut changes = match self.store.registry_changes().await {
                Ok(Some(changes)) => changes,
                Ok(None) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for registry changes; retrying");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    continue;
                }
            };
            if !first && let Err(e) = self.reload_registry().await {
                tracing::warn!(error = %e, "reloading the registry failed");
            }
            first = false;
            while changes.next().await.is_some() {
                if let Err(e) = self.reload_registry().await {
                    tracing::warn!(error = %e, "reloading the registry failed");
                }
            }
            tracing::warn!("the registry change feed ended; listening again");
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
    }
}
