//! The command line: `mitai serve`, `mitai user create|set-role|set-password`, `mitai jobs
//! run`, `mitai db copy|backup|check`.

mod db;

use std::io::{BufRead, IsTerminal};
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use tokio::net::TcpListener;

use crate::config::{Config, LogFormat, ServeArgs};
use crate::service::AppState;
use crate::service::{accounts, jobs};

#[derive(Parser)]
#[command(
    name = "mitai",
    version,
    about = "Mitai: body tracking with exact feature access"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the server.
    Serve(Box<ServeArgs>),
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Run jobs.
    Jobs {
        #[command(subcommand)]
        command: JobsCommand,
    },
    /// Copy a database to the other backend, back it up, check it.
    Db {
        #[command(subcommand)]
        command: db::DbCommand,
    },
}

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create a user (verified). The password comes from a prompt or --password-stdin.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: Option<String>,
        /// Make the user an admin.
        #[arg(long)]
        admin: bool,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Make a user an admin, or an admin a user (the last enabled admin stays).
    SetRole {
        #[arg(long)]
        email: String,
        /// `admin` or `user`.
        #[arg(long, value_parser = ["admin", "user"])]
        role: String,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Set a user's password.
    SetPassword {
        #[arg(long)]
        email: String,
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Subcommand)]
pub enum JobsCommand {
    /// Run every due job once and exit (mail goes out through MITAI_MAIL).
    Run {
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        mail: MailArgs,
    },
}

/// What the send job needs: the transport, and the public URL for links.
#[derive(clap::Args)]
pub struct MailArgs {
    /// Mail transport: log, file:DIR, smtp://user:pass@host:port, smtps://…
    #[arg(long, env = "MITAI_MAIL", default_value = "log")]
    pub mail: String,
    /// Public URL used in e-mails (default: http://<listen>).
    #[arg(long, env = "MITAI_BASE_URL")]
    pub base_url: Option<String>,
    /// The address `mitai serve` binds (for the default base URL).
    #[arg(long, env = "MITAI_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,
}

#[derive(clap::Args)]
pub struct DbArgs {
    #[arg(
        long,
        env = "MITAI_DATABASE_URL",
        default_value = "sqlite://data/mitai.db"
    )]
    pub database_url: String,
}

fn init_tracing_with(filter: &str) {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .try_init();
}

fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => {
            let config = match Config::from_args(&args) {
                Ok(config) => config,
                Err(e) => {
                    eprintln!("mitai: {e}");
                    std::process::exit(2);
                }
            };
            init_tracing(config.log_format);
            serve(config).await
        }
        Command::User { command } => {
            init_tracing(LogFormat::Text);
            match command {
                UserCommand::Create {
                    email,
                    name,
                    admin,
                    password_stdin,
                    db,
                } => {
                    let state = offline_state(&db.database_url).await?;
                    let password = read_password(password_stdin)?;
                    let profile =
                        accounts::create_user(&state, &email, &password, name.as_deref(), admin)
                            .await
                            .map_err(|e| anyhow::anyhow!("{e}"))?;
                    println!(
                        "created {} {} ({})",
                        profile.role.as_str(),
                        profile.email,
                        profile.id
                    );
                    Ok(())
                }
                UserCommand::SetRole { email, role, db } => {
                    let state = offline_state(&db.database_url).await?;
                    let role = mitai_store::Role::parse(&role)
                        .ok_or_else(|| anyhow::anyhow!("--role must be admin or user"))?;
                    let profile = accounts::set_role(&state, &email, role).await?;
                    println!("{} is now {}", profile.email, profile.role.as_str());
                    Ok(())
                }
                UserCommand::SetPassword {
                    email,
                    password_stdin,
                    db,
                } => {
                    let state = offline_state(&db.database_url).await?;
                    let password = read_password(password_stdin)?;
                    let profile = accounts::set_password(&state, &email, password).await?;
                    println!("password of {} changed", profile.email);
                    Ok(())
                }
            }
        }
        Command::Db { command } => {
            // A copy's big reads are slow statements by design: not worth a warning.
            if std::env::var_os("RUST_LOG").is_none() {
                init_tracing_with("info,sqlx::query=error");
            } else {
                init_tracing(LogFormat::Text);
            }
            db::run(command).await
        }
        Command::Jobs {
            command: JobsCommand::Run { db, mail },
        } => {
            init_tracing(LogFormat::Text);
            let state = offline_state_with(ServeArgs {
                database_url: db.database_url,
                mail: mail.mail,
                base_url: mail.base_url,
                listen: mail.listen,
                ..ServeArgs::default()
            })
            .await?;
            let report = jobs::run_due(&state).await;
            println!("{}", serde_json::to_string(&report)?);
            if !report.errors.is_empty() {
                bail!(
                    "{} job(s) failed: {}",
                    report.errors.len(),
                    report.errors.join("; ")
                );
            }
            Ok(())
        }
    }
}

/// State for a one-off command against the database.
async fn offline_state(database_url: &str) -> anyhow::Result<AppState> {
    offline_state_with(ServeArgs {
        database_url: database_url.to_owned(),
        ..ServeArgs::default()
    })
    .await
}

async fn offline_state_with(args: ServeArgs) -> anyhow::Result<AppState> {
    let database_url = args.database_url.as_str();
    let config = Config::from_args(&args).map_err(|e| anyhow::anyhow!("{e}"))?;
    let store = open_store(database_url).await?;
    AppState::new(store, config).await
}

/// The store at `url`, migrated; refused when it is the target of an unfinished `mitai db
/// copy` (it lacks some of its data).
async fn open_store(url: &str) -> anyhow::Result<Arc<dyn mitai_store::Store>> {
    let store = mitai_store::connect(url)
        .await
        .with_context(|| format!("opening {}", mitai_store::redact_url(url)))?;
    if let Some(m) = store.unfinished_copy().await? {
        bail!(
            "{} is the target of an unfinished `mitai db copy` (from {}, started {}) and \
             incomplete; run the copy again with --force-empty-target",
            mitai_store::redact_url(url),
            m.source,
            m.started_at.format("%Y-%m-%d %H:%M:%S UTC")
        );
    }
    Ok(store)
}

fn read_password(from_stdin: bool) -> anyhow::Result<String> {
    let password = if from_stdin || !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else {
        let first = rpassword::prompt_password("Password: ")?;
        let second = rpassword::prompt_password("Repeat: ")?;
        if first != second {
            bail!("the passwords differ");
        }
        first
    };
    if password.is_empty() {
        bail!("no password given");
    }
    Ok(password)
}

/// `mitai serve`: migrate, create the first admin, serve until SIGTERM/SIGINT.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let store = open_store(&config.database_url).await?;
    let listen = config.listen;
    if config.test_clock {
        tracing::warn!(
            "MITAI_TEST_CLOCK=1: the test clock routes are enabled (anyone who reaches this \
             server can move its time and run its jobs); never use this in production"
        );
        eprintln!("mitai: WARNING: MITAI_TEST_CLOCK=1 — the test clock is on; never in production");
    }
    if config.mail == crate::config::MailTransport::Log && !listen.ip().is_loopback() {
        tracing::warn!(
            %listen,
            "MITAI_MAIL=log writes every e-mail, with its sign-in, verification and reset \
             links, to the log, and this server listens beyond loopback: set MITAI_MAIL to \
             smtp://… or file:DIR"
        );
    }
    let state = AppState::new(Arc::clone(&store), config).await?;
    accounts::ensure_admin(&state).await?;
    tokio::spawn(state.clone().follow_registry_changes());
    tokio::spawn(run_jobs_periodically(state.clone()));
    let shutdown = shutdown_signal()?;
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, backend = ?store.backend(), "listening");
    // The one line a person (or a test) waits for.
    println!("mitai listening on http://{addr}");
    let limits = state.config.limits.clone();
    crate::serve::run(listener, crate::app(state), limits, shutdown).await;
    tracing::info!("stopped");
    Ok(())
}

async fn run_jobs_periodically(state: AppState) {
    loop {
        let report = jobs::run_due(&state).await;
        tracing::debug!(?report, "jobs ran");
        // A backlog (a year's log under a new retention setting) is worked off round after
        // round, each paced; otherwise a round a minute.
        let pause = if report.backlog { 1 } else { 60 };
        tokio::time::sleep(std::time::Duration::from_secs(pause)).await;
    }
}

/// SIGTERM or SIGINT. The handlers are installed when this is called (not when the future
/// is first polled), so a signal that arrives right after start-up is not lost.
fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate =
        signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    Ok(async move {
        tokio::select! {
            _ = terminate.recv() => {},
            _ = interrupt.recv() => {},
        }
    })
}
