//! Configuration of `mitai serve`: flags and the same names as `MITAI_*` variables.
//!
//! Values arrive as strings and are checked here, so that a bad one stops start-up with
//! one line naming it (clap's own errors span several lines).

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

pub mod cidr;

/// The raw options, as given.
#[derive(Args, Clone)]
pub struct ServeArgs {
    /// Database: sqlite://PATH or postgres://…
    #[arg(
        long,
        env = "MITAI_DATABASE_URL",
        default_value = "sqlite://data/mitai.db"
    )]
    pub database_url: String,
    /// Address to bind.
    #[arg(long, env = "MITAI_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Public URL used in e-mails (default: http://<listen>).
    #[arg(long, env = "MITAI_BASE_URL")]
    pub base_url: Option<String>,
    /// Folder for photos and other files.
    #[arg(long, env = "MITAI_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// Mail transport: log, file:DIR, smtp://user:pass@host:port, smtps://…
    #[arg(long, env = "MITAI_MAIL", default_value = "log")]
    pub mail: String,
    /// Create this admin on start if no admin exists.
    #[arg(long, env = "MITAI_ADMIN_EMAIL")]
    pub admin_email: Option<String>,
    /// Password of that admin.
    #[arg(long, env = "MITAI_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,
    /// 1 enables the test clock routes (never in production).
    #[arg(long, env = "MITAI_TEST_CLOCK", default_value = "0")]
    pub test_clock: String,
    /// OpenAI-compatible chat endpoint.
    #[arg(long, env = "MITAI_AI_URL")]
    pub ai_url: Option<String>,
    #[arg(long, env = "MITAI_AI_KEY", hide_env_values = true)]
    pub ai_key: Option<String>,
    #[arg(long, env = "MITAI_AI_MODEL")]
    pub ai_model: Option<String>,
    /// Seconds an AI call may take before it fails (fractions allowed).
    #[arg(long, env = "MITAI_AI_TIMEOUT", default_value = "30")]
    pub ai_timeout: String,
    /// Stripe secret or restricted key; payments are off without it.
    #[arg(long, env = "MITAI_STRIPE_SECRET_KEY", hide_env_values = true)]
    pub stripe_secret_key: Option<String>,
    /// The webhook endpoint's signing secret (`whsec_…`).
    #[arg(long, env = "MITAI_STRIPE_WEBHOOK_SECRET", hide_env_values = true)]
    pub stripe_webhook_secret: Option<String>,
    /// Where the Stripe API is.
    #[arg(
        long,
        env = "MITAI_STRIPE_API_BASE",
        default_value = "https://api.stripe.com"
    )]
    pub stripe_api_base: String,
    /// text or json.
    #[arg(long, env = "MITAI_LOG_FORMAT", default_value = "text")]
    pub log_format: String,
    /// Proxies whose X-Forwarded-For / Forwarded headers are believed (CIDR list).
    #[arg(long, env = "MITAI_TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: String,
    /// Seconds a client has to send a request's headers (also the keep-alive idle time).
    #[arg(long, env = "MITAI_HEADER_TIMEOUT", default_value = "10")]
    pub header_timeout: String,
    /// Seconds a request (body included) may take until its answer starts.
    #[arg(long, env = "MITAI_REQUEST_TIMEOUT", default_value = "60")]
    pub request_timeout: String,
    /// Seconds a body (of a request or a streamed answer) may make no progress.
    #[arg(long, env = "MITAI_IDLE_TIMEOUT", default_value = "60")]
    pub idle_timeout: String,
    /// Connections served at once; more wait until one closes.
    #[arg(long, env = "MITAI_MAX_CONNECTIONS", default_value = "1024")]
    pub max_connections: String,
    /// Seconds SIGTERM waits for requests in flight before the process exits.
    #[arg(long, env = "MITAI_SHUTDOWN_TIMEOUT", default_value = "20")]
    pub shutdown_timeout: String,
}

impl Default for ServeArgs {
    fn default() -> Self {
        ServeArgs {
            database_url: "sqlite://data/mitai.db".into(),
            listen: "127.0.0.1:8080".into(),
            base_url: None,
            data_dir: "data".into(),
            mail: "log".into(),
            admin_email: None,
            admin_password: None,
            test_clock: "0".into(),
            ai_url: None,
            ai_key: None,
            ai_model: None,
            ai_timeout: "30".into(),
            stripe_secret_key: None,
            stripe_webhook_secret: None,
            stripe_api_base: "https://api.stripe.com".into(),
            log_format: "text".into(),
            trusted_proxies: String::new(),
            header_timeout: "10".into(),
            request_timeout: "60".into(),
            idle_timeout: "60".into(),
            max_connections: "1024".into(),
            shutdown_timeout: "20".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

pub use crate::mail::MailTransport;

/// Stripe, when payments are on (DESIGN §13).
#[derive(Clone)]
pub struct StripeConfig {
    pub secret_key: String,
    pub webhook_secret: String,
    /// Without a trailing `/`.
    pub api_base: String,
}

impl fmt::Debug for StripeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StripeConfig")
            .field("secret_key", &"***")
            .field("webhook_secret", &"***")
            .field("api_base", &self.api_base)
            .finish()
    }
}

/// An OpenAI-compatible endpoint.
#[derive(Clone)]
pub struct AiConfig {
    pub url: String,
    pub key: Option<String>,
    pub model: String,
    /// How long one call may take (`MITAI_AI_TIMEOUT`).
    pub timeout: Duration,
}

impl fmt::Debug for AiConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AiConfig")
            .field("url", &self.url)
            .field("key", &self.key.as_ref().map(|_| "***"))
            .field("model", &self.model)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// How long clients may take, and how many may connect (see `crate::serve`).
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    pub header_timeout: Duration,
    pub request_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
    pub shutdown_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(60),
            max_connections: 1024,
            shutdown_timeout: Duration::from_secs(20),
        }
    }
}

/// The checked configuration.
#[derive(Clone)]
pub struct Config {
    pub database_url: String,
    pub listen: SocketAddr,
    pub base_url: String,
    pub data_dir: PathBuf,
    pub mail: MailTransport,
    pub admin: Option<(String, String)>,
    pub test_clock: bool,
    pub ai: Option<AiConfig>,
    /// `None`: payments are off.
    pub stripe: Option<StripeConfig>,
    pub log_format: LogFormat,
    pub trusted_proxies: Vec<cidr::Cidr>,
    pub limits: Limits,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &mitai_store::redact_url(&self.database_url))
            .field("listen", &self.listen)
            .field("base_url", &self.base_url)
            .field("data_dir", &self.data_dir)
            .field("mail", &self.mail)
            .field(
                "admin",
                &self.admin.as_ref().map(|(email, _)| (email, "***")),
            )
            .field("test_clock", &self.test_clock)
            .field("ai", &self.ai)
            .field("stripe", &self.stripe)
            .field("log_format", &self.log_format)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("limits", &self.limits)
            .finish()
    }
}

/// One bad value: the variable's name and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn bad(var: &str, value: &str, why: &str) -> ConfigError {
    ConfigError(format!("invalid {var} {value:?}: {why}"))
}

fn http_url(var: &str, value: &str) -> Result<String, ConfigError> {
    let ok = (value.starts_with("http://") || value.starts_with("https://"))
        && value.len() > "https://".len()
        && !value.chars().any(char::is_whitespace);
    if ok {
        Ok(value.trim_end_matches('/').to_owned())
    } else {
        Err(bad(var, value, "expected an http:// or https:// URL"))
    }
}

/// Seconds, fractions allowed, from 0.01 to 600.
fn ai_timeout(value: &str) -> Result<Duration, ConfigError> {
    match value.trim().parse::<f64>() {
        Ok(secs) if (0.01..=600.0).contains(&secs) => Ok(Duration::from_secs_f64(secs)),
        _ => Err(bad(
            "MITAI_AI_TIMEOUT",
            value,
            "expected seconds from 0.01 to 600, e.g. 30",
        )),
    }
}

/// Seconds, fractions allowed, from 0.1 to 3600.
fn seconds(var: &str, value: &str) -> Result<Duration, ConfigError> {
    match value.trim().parse::<f64>() {
        Ok(secs) if (0.1..=3600.0).contains(&secs) => Ok(Duration::from_secs_f64(secs)),
        _ => Err(bad(var, value, "expected seconds from 0.1 to 3600")),
    }
}

/// Whether a PostgreSQL URL points at this machine (the test clock is allowed only then).
fn is_local_postgres(url: &str) -> bool {
    let rest = url.split_once("://").map_or("", |(_, r)| r);
    let host_part = rest.split(['/', '?']).next().unwrap_or("");
    let host = host_part.rsplit_once('@').map_or(host_part, |(_, h)| h);
    let host = if let Some(v6) = host.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        host.split(':').next().unwrap_or("")
    };
    // An empty host means a Unix socket, which is local too.
    matches!(host, "" | "localhost" | "127.0.0.1" | "::1") || host.starts_with("127.")
}

impl Config {
    pub fn from_args(args: &ServeArgs) -> Result<Config, ConfigError> {
        let db = args.database_url.trim();
        let is_pg = db.starts_with("postgres://") || db.starts_with("postgresql://");
        if !(is_pg || db.starts_with("sqlite:")) {
            return Err(bad(
                "MITAI_DATABASE_URL",
                &mitai_store::redact_url(db),
                "expected sqlite://PATH or postgres://…",
            ));
        }
        let listen: SocketAddr = args.listen.trim().parse().map_err(|_| {
            bad(
                "MITAI_LISTEN",
                &args.listen,
                "expected host:port, e.g. 127.0.0.1:8080",
            )
        })?;
        let base_url = match &args.base_url {
            Some(url) => http_url("MITAI_BASE_URL", url.trim())?,
            None => format!("http://{listen}"),
        };
        let mail = MailTransport::parse(&args.mail).map_err(|why| {
            bad(
                "MITAI_MAIL",
                &mitai_store::redact_url(args.mail.trim()),
                &why,
            )
        })?;
        let admin = match (&args.admin_email, &args.admin_password) {
            (None, None) => None,
            (Some(email), Some(password)) => {
                mitai_access::accounts::validate_email(email)
                    .map_err(|why| bad("MITAI_ADMIN_EMAIL", email, &why))?;
                mitai_access::accounts::validate_password(password)
                    .map_err(|why| ConfigError(format!("invalid MITAI_ADMIN_PASSWORD: {why}")))?;
                Some((email.trim().to_owned(), password.clone()))
            }
            (Some(_), None) => {
                return Err(ConfigError(
                    "MITAI_ADMIN_PASSWORD is required when MITAI_ADMIN_EMAIL is set".into(),
                ));
            }
            (None, Some(_)) => {
                return Err(ConfigError(
                    "MITAI_ADMIN_EMAIL is required when MITAI_ADMIN_PASSWORD is set".into(),
                ));
            }
        };
        let test_clock = match args.test_clock.trim() {
            "1" | "true" => true,
            "0" | "false" | "" => false,
            other => return Err(bad("MITAI_TEST_CLOCK", other, "expected 1 or 0")),
        };
        if test_clock && is_pg && !is_local_postgres(db) {
            return Err(ConfigError(
                "MITAI_TEST_CLOCK=1 is refused with a PostgreSQL database that is not on this machine"
                    .into(),
            ));
        }
        if test_clock && !listen.ip().is_loopback() {
            return Err(ConfigError(format!(
                "MITAI_TEST_CLOCK=1 is refused with MITAI_LISTEN {listen}: the test clock is only \
                 for a server that listens on loopback (127.0.0.1 or ::1)"
            )));
        }
        let ai = match &args.ai_url {
            None => None,
            Some(url) => Some(AiConfig {
                url: http_url("MITAI_AI_URL", url.trim())?,
                key: args.ai_key.clone().filter(|k| !k.is_empty()),
                model: args
                    .ai_model
                    .clone()
                    .filter(|m| !m.trim().is_empty())
                    .unwrap_or_else(|| "gpt-4o-mini".into()),
                timeout: ai_timeout(&args.ai_timeout)?,
            }),
        };
        fn present(v: &Option<String>) -> Option<&str> {
            v.as_deref().map(str::trim).filter(|v| !v.is_empty())
        }
        let stripe = match (
            present(&args.stripe_secret_key),
            present(&args.stripe_webhook_secret),
        ) {
            (Some(key), Some(secret)) => Some(StripeConfig {
                secret_key: key.to_owned(),
                webhook_secret: secret.to_owned(),
                api_base: http_url("MITAI_STRIPE_API_BASE", args.stripe_api_base.trim())?,
            }),
            (Some(_), None) => {
                return Err(ConfigError(
                    "MITAI_STRIPE_WEBHOOK_SECRET is required when MITAI_STRIPE_SECRET_KEY is set \
                     (payments need both)"
                        .into(),
                ));
            }
            (None, Some(_)) => {
                return Err(ConfigError(
                    "MITAI_STRIPE_SECRET_KEY is required when MITAI_STRIPE_WEBHOOK_SECRET is set \
                     (payments need both)"
                        .into(),
                ));
            }
            (None, None) => None,
        };
        let log_format = match args.log_format.trim() {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => return Err(bad("MITAI_LOG_FORMAT", other, "expected text or json")),
        };
        let trusted_proxies = cidr::parse_list(&args.trusted_proxies)
            .map_err(|why| bad("MITAI_TRUSTED_PROXIES", &args.trusted_proxies, &why))?;
        let limits = Limits {
            header_timeout: seconds("MITAI_HEADER_TIMEOUT", &args.header_timeout)?,
            request_timeout: seconds("MITAI_REQUEST_TIMEOUT", &args.request_timeout)?,
            idle_timeout: seconds("MITAI_IDLE_TIMEOUT", &args.idle_timeout)?,
            max_connections: match args.max_connections.trim().parse::<usize>() {
                Ok(n) if (1..=1_000_000).contains(&n) => n,
                _ => {
                    return Err(bad(
                        "MITAI_MAX_CONNECTIONS",
                        &args.max_connections,
                        "expected a number from 1 to 1000000",
                    ));
                }
            },
            shutdown_timeout: seconds("MITAI_SHUTDOWN_TIMEOUT", &args.shutdown_timeout)?,
        };
        Ok(Config {
            database_url: db.to_owned(),
            listen,
            base_url,
            data_dir: args.data_dir.clone(),
            mail,
            admin,
            test_clock,
            ai,
            stripe,
            log_format,
            trusted_proxies,
            limits,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let c = Config::from_args(&ServeArgs::default()).unwrap();
        assert_eq!(c.base_url, "http://127.0.0.1:8080");
        assert_eq!(c.mail, MailTransport::Log);
        assert!(!c.test_clock);
    }

    #[test]
    fn bad_values_name_the_variable() {
        type Change = fn(&mut ServeArgs);
        let cases: Vec<(Change, &str)> = vec![
            (|a| a.listen = "nope".into(), "MITAI_LISTEN"),
            (
                |a| a.database_url = "mysql://x".into(),
                "MITAI_DATABASE_URL",
            ),
            (|a| a.base_url = Some("ftp://x".into()), "MITAI_BASE_URL"),
            (|a| a.mail = "pigeon".into(), "MITAI_MAIL"),
            (|a| a.mail = "smtp://host?tls=maybe".into(), "MITAI_MAIL"),
            (|a| a.test_clock = "yes".into(), "MITAI_TEST_CLOCK"),
            (|a| a.log_format = "xml".into(), "MITAI_LOG_FORMAT"),
            (
                |a| a.trusted_proxies = "10.0.0.0/8, proxy".into(),
                "MITAI_TRUSTED_PROXIES",
            ),
            (|a| a.header_timeout = "0".into(), "MITAI_HEADER_TIMEOUT"),
            (|a| a.request_timeout = "x".into(), "MITAI_REQUEST_TIMEOUT"),
            (|a| a.idle_timeout = "-1".into(), "MITAI_IDLE_TIMEOUT"),
            (|a| a.max_connections = "0".into(), "MITAI_MAX_CONNECTIONS"),
            (
                |a| a.shutdown_timeout = "1e9".into(),
                "MITAI_SHUTDOWN_TIMEOUT",
            ),
            (
                |a| a.admin_email = Some("a@b.org".into()),
                "MITAI_ADMIN_PASSWORD",
            ),
            (|a| a.ai_url = Some("localhost:1".into()), "MITAI_AI_URL"),
            (
                |a| {
                    a.ai_url = Some("http://127.0.0.1:1".into());
                    a.ai_timeout = "0".into();
                },
                "MITAI_AI_TIMEOUT",
            ),
        ];
        for (change, var) in cases {
            let mut args = ServeArgs::default();
            change(&mut args);
            let err = Config::from_args(&args).unwrap_err();
            assert!(err.0.contains(var), "{err} should name {var}");
            assert!(!err.0.contains('\n'));
        }
    }

    #[test]
    fn test_clock_needs_a_local_database() {
        let mut args = ServeArgs {
            test_clock: "1".into(),
            ..ServeArgs::default()
        };
        for local in [
            "postgres://postgres@127.0.0.1:5432/x",
            "postgres://localhost/x",
            "postgres:///x",
            "postgres://u:p@[::1]:5432/x",
        ] {
            args.database_url = local.into();
            assert!(Config::from_args(&args).is_ok(), "{local}");
        }
        args.database_url = "postgres://u:secret@db.example.org/x".into();
        assert!(Config::from_args(&args).is_err());
    }

    #[test]
    fn test_clock_needs_a_loopback_listener() {
        let mut args = ServeArgs {
            test_clock: "1".into(),
            listen: "0.0.0.0:8080".into(),
            ..ServeArgs::default()
        };
        let err = Config::from_args(&args).unwrap_err();
        assert!(
            err.0.contains("MITAI_TEST_CLOCK") && err.0.contains("MITAI_LISTEN"),
            "{err}"
        );
        args.listen = "[::1]:0".into();
        assert!(Config::from_args(&args).is_ok());
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let args = ServeArgs {
            database_url: "postgres://u:hunter2@localhost/x".into(),
            admin_email: Some("a@b.org".into()),
            admin_password: Some("correct horse".into()),
            ..ServeArgs::default()
        };
        let shown = format!("{:?}", Config::from_args(&args).unwrap());
        assert!(
            !shown.contains("hunter2") && !shown.contains("correct horse"),
            "{shown}"
        );
    }
}
