//! `mitai db copy|backup|check`: moving a database between the backends, backing it up,
//! and looking at it. The work is done by [`mitai_store::copy`]; this is the terminal.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Subcommand;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use mitai_store::copy::{self, CopyOptions, CopySummary, Progress, Status};

use super::DbArgs;

#[derive(Subcommand)]
pub enum DbCommand {
    /// Copy every table of one database into another (SQLite and PostgreSQL, either
    /// way), then verify row counts and checksums. The source may keep serving.
    Copy {
        /// The database to read, e.g. sqlite://data/mitai.db
        #[arg(long)]
        from: String,
        /// The database to write, e.g. postgres://mitai@db/mitai (migrated first).
        #[arg(long)]
        to: String,
        /// Empty a target that holds data or an unfinished copy before copying.
        #[arg(long)]
        force_empty_target: bool,
        /// Rows written per batch.
        #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        batch_rows: u32,
    },
    /// Write a consistent copy of a SQLite database to a new file (safe while the server
    /// runs); PostgreSQL is backed up with pg_dump.
    Backup {
        /// The file to write; it must not exist.
        file: PathBuf,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Print the schema version and the row count of every table; exits non-zero when the
    /// database holds an unfinished copy or another schema version than this mitai's.
    Check {
        #[command(flatten)]
        db: DbArgs,
    },
}

pub async fn run(command: DbCommand) -> anyhow::Result<()> {
    match command {
        DbCommand::Copy {
            from,
            to,
            force_empty_target,
            batch_rows,
        } => {
            let options = CopyOptions {
                force_empty_target,
                batch_rows: batch_rows as usize,
            };
            eprintln!(
                "copying {} into {}",
                mitai_store::redact_url(&from),
                mitai_store::redact_url(&to)
            );
            let mut progress = Bars::new();
            let summary = copy::copy(&from, &to, &options, &mut progress).await?;
            print_summary(&summary);
            Ok(())
        }
        DbCommand::Backup { file, db } => {
            let status = copy::backup(&db.database_url, &file).await?;
            let bytes = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
            println!(
                "backup written to {} ({}), integrity check ok",
                file.display(),
                size(bytes)
            );
            print_status(&file.display().to_string(), &status);
            Ok(())
        }
        DbCommand::Check { db } => {
            let status = copy::check(&db.database_url).await?;
            print_status(&mitai_store::redact_url(&db.database_url), &status);
            if let Some(m) = &status.unfinished_copy {
                anyhow::bail!(
                    "this database is the target of an unfinished copy (from {}, started {})",
                    m.source,
                    m.started_at.format("%Y-%m-%d %H:%M:%S UTC")
                );
            }
            if status.schema_version != status.build_version {
                anyhow::bail!(
                    "the schema is version {}, this mitai's is {}",
                    status.schema_version,
                    status.build_version
                );
            }
            Ok(())
        }
    }
}

fn print_summary(summary: &CopySummary) {
    let secs = summary.elapsed.as_secs_f64();
    println!(
        "copied {} rows of {} tables in {:.1} s ({} rows/s); every table verified \
         (row count and SHA-256 of its content):",
        thousands(summary.rows()),
        summary.tables.len(),
        secs,
        thousands((summary.rows() as f64 / secs.max(0.001)) as u64)
    );
    println!(
        "  {:<26} {:>11} {:>11} {:>9}",
        "table", "source", "target", "time"
    );
    for t in &summary.tables {
        println!(
            "  {:<26} {:>11} {:>11} {:>7.1} s",
            t.table,
            thousands(t.source_rows),
            thousands(t.target_rows),
            t.elapsed.as_secs_f64()
        );
    }
    println!(
        "photo files are not in the database: they stay in MITAI_DATA_DIR; point the \
         instances on the target at the same folder (or copy it along)"
    );
}

fn print_status(name: &str, status: &Status) {
    println!("database   {name} ({:?})", status.backend);
    println!(
        "schema     version {} (this mitai: {})",
        status.schema_version, status.build_version
    );
    match &status.unfinished_copy {
        None => println!("state      complete"),
        Some(m) => println!(
            "state      INCOMPLETE: unfinished copy from {}, started {}",
            m.source,
            m.started_at.format("%Y-%m-%d %H:%M:%S UTC")
        ),
    }
    println!("rows");
    for (table, n) in &status.counts {
        match n {
            Some(n) => println!("  {table:<26} {:>11}", thousands(*n)),
            None => println!("  {table:<26} {:>11}", "(missing)"),
        }
    }
}

/// `1234567` as `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

fn size(bytes: u64) -> String {
    if bytes >= 1 << 20 {
        format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20))
    } else {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    }
}

/// A progress bar per table on a terminal; plain lines on standard error otherwise.
struct Bars {
    terminal: bool,
    bar: Option<ProgressBar>,
    table: String,
    total: u64,
    started: Instant,
}

impl Bars {
    fn new() -> Bars {
        Bars {
            terminal: std::io::stderr().is_terminal(),
            bar: None,
            table: String::new(),
            total: 0,
            started: Instant::now(),
        }
    }
}

impl Progress for Bars {
    fn start(&mut self, table: &str, total: u64) {
        self.table = table.to_owned();
        self.total = total;
        self.started = Instant::now();
        if self.terminal {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(
                "  {prefix:<26} [{bar:30}] {human_pos:>11}/{human_len:<11} {rate:>14} {elapsed:>4}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .with_key(
                "rate",
                |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = write!(w, "{} rows/s", thousands(state.per_sec() as u64));
                },
            )
            .progress_chars("=> ");
            bar.set_style(style);
            bar.set_prefix(table.to_owned());
            self.bar = Some(bar);
        } else {
            eprintln!("  {table}: {} rows", thousands(total));
        }
    }

    fn advance(&mut self, done: u64) {
        match &self.bar {
            Some(bar) => bar.set_position(done),
            None => {
                let rate = done as f64 / self.started.elapsed().as_secs_f64().max(0.001);
                eprintln!(
                    "  {} {}/{} ({} rows/s)",
                    self.table,
                    thousands(done),
                    thousands(self.total),
                    thousands(rate as u64)
                );
            }
        }
    }

    fn finish(&mut self, rows: u64, elapsed: Duration) {
        // The bar gives way to the same line as without a terminal, so that what is printed
        // next starts on a line of its own.
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        eprintln!(
            "  {} done: {} rows in {:.1} s",
            self.table,
            thousands(rows),
            elapsed.as_secs_f64()
        );
    }

    fn note(&mut self, what: &str) {
        eprintln!("{what}");
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn thousands_groups_digits() {
        assert_eq!(super::thousands(0), "0");
        assert_eq!(super::thousands(999), "999");
        assert_eq!(super::thousands(1_000), "1,000");
        assert_eq!(super::thousands(1_234_567), "1,234,567");
    }
}
