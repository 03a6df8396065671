//! Process metrics in the Prometheus text format (`GET /metrics`).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use mitai_access::Registry;

/// Counters kept by this instance since it started.
#[derive(Debug)]
pub struct Metrics {
    started: Instant,
    /// Responses by status class: 1xx … 5xx.
    responses: [AtomicU64; 5],
    pub consume_spent: AtomicU64,
    pub consume_limit_reached: AtomicU64,
    pub consume_disabled: AtomicU64,
    pub consume_replayed: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            started: Instant::now(),
            responses: Default::default(),
            consume_spent: AtomicU64::new(0),
            consume_limit_reached: AtomicU64::new(0),
            consume_disabled: AtomicU64::new(0),
            consume_replayed: AtomicU64::new(0),
        }
    }
}

impl Metrics {
    pub fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a response of status `status` (its class: 1xx … 5xx).
    pub fn count_response(&self, status: u16) {
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        Metrics::count(&self.responses[class]);
    }

    /// The counters and the registry's size in the Prometheus text format.
    pub fn render(&self, registry: &Registry) -> String {
        let mut out = String::with_capacity(1024);
        out.push_str("# HELP mitai_http_responses_total HTTP responses by status class.\n");
        out.push_str("# TYPE mitai_http_responses_total counter\n");
        for (i, n) in self.responses.iter().enumerate() {
            let _ = writeln!(
                out,
                "mitai_http_responses_total{{class=\"{}xx\"}} {}",
                i + 1,
                n.load(Ordering::Relaxed)
            );
        }
        out.push_str("# HELP mitai_consume_total Consume decisions by outcome.\n");
        out.push_str("# TYPE mitai_consume_total counter\n");
        for (outcome, n) in [
            ("spent", &self.consume_spent),
            ("limit_reached", &self.consume_limit_reached),
            ("disabled", &self.consume_disabled),
            ("replayed", &self.consume_replayed),
        ] {
            let _ = writeln!(
                out,
                "mitai_consume_total{{outcome=\"{outcome}\"}} {}",
                n.load(Ordering::Relaxed)
            );
        }
        out.push_str("# HELP mitai_registry_features Features in the registry.\n");
        out.push_str("# TYPE mitai_registry_features gauge\n");
        let _ = writeln!(out, "mitai_registry_features {}", registry.features().len());
        out.push_str("# HELP mitai_registry_tiers Tiers in the registry.\n");
        out.push_str("# TYPE mitai_registry_tiers gauge\n");
        let _ = writeln!(out, "mitai_registry_tiers {}", registry.tiers().len());
        out.push_str(
            "# HELP mitai_database_connections_lost_total Statements that found their \
             database connection ended (a restart or failover of PostgreSQL).\n",
        );
        out.push_str("# TYPE mitai_database_connections_lost_total counter\n");
        let _ = writeln!(
            out,
            "mitai_database_connections_lost_total {}",
            crate::service::health::connections_lost()
        );
        out.push_str("# HELP mitai_uptime_seconds Seconds since this instance started.\n");
        out.push_str("# TYPE mitai_uptime_seconds gauge\n");
        let _ = writeln!(
            out,
            "mitai_uptime_seconds {}",
            self.started.elapsed().as_secs()
        );
        out
    }
}
