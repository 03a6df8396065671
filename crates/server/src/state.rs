//! Shared application state: the store, the cached registry and the clock.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

use chrono::{DateTime, TimeDelta, Utc};
use futures::StreamExt;
use mitai_access::{Registry, Settings};
use mitai_store::Store;

use crate::config::Config;

/// The server's notion of "now". Real time, plus an offset that only the test clock
/// (enabled by `MITAI_TEST_CLOCK=1`) can move, and only forward.
#[derive(Debug, Default)]
pub struct Clock {
    offset_micros: AtomicI64,
}

impl Clock {
    pub fn now(&self) -> DateTime<Utc> {
        let now = Utc::now() + TimeDelta::microseconds(self.offset_micros.load(Ordering::Relaxed));
        // Storage keeps microseconds; so does the clock, so that what is stored compares
        // equal to what was computed.
        DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
    }

    /// Moves the clock forward by `delta` (negative deltas are refused by the caller).
    pub fn advance(&self, delta: TimeDelta) {
        let micros = delta.num_microseconds().unwrap_or(i64::MAX / 4);
        self.offset_micros.fetch_add(micros, Ordering::Relaxed);
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
    pub store: Arc<dyn Store>,
    pub registry: RegistryCache,
    pub clock: Clock,
    pub config: Config,
    pub metrics: crate::metrics::Metrics,
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
    /// Builds the state and loads the registry.
    pub async fn new(store: Arc<dyn Store>, config: Config) -> mitai_store::Result<AppState> {
        let registry = load_registry(store.as_ref()).await?;
        Ok(AppState(Arc::new(Inner {
            store,
            registry: RegistryCache {
                current: RwLock::new(Arc::new(registry)),
            },
            clock: Clock::default(),
            config,
            metrics: Default::default(),
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
    /// Returns when the store offers no change feed (SQLite: one instance only).
    pub async fn follow_registry_changes(self) {
        let mut changes = match self.store.registry_changes().await {
            Ok(Some(changes)) => changes,
            Ok(None) => return,
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for registry changes");
                return;
            }
        };
        while changes.next().await.is_some() {
            if let Err(e) = self.reload_registry().await {
                tracing::warn!(error = %e, "reloading the registry failed");
            }
        }
    }
}
