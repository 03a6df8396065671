//! Sending mail: the transports of `MITAI_MAIL`, and the templates. Mail is never sent
//! from a request: requests enqueue it in the outbox (the store) and the send job
//! (`service::mail`) renders and sends it here.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use uuid::Uuid;

pub mod templates;

/// Where mail goes: `MITAI_MAIL` (`log`, `file:DIR`, `smtp://…`, `smtps://…`).
#[derive(Clone, PartialEq, Eq)]
pub enum MailTransport {
    Log,
    File(PathBuf),
    Smtp(String),
}

impl std::fmt::Debug for MailTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MailTransport::Log => write!(f, "Log"),
            MailTransport::File(dir) => write!(f, "File({})", dir.display()),
            MailTransport::Smtp(url) => write!(f, "Smtp({})", mitai_store::redact_url(url)),
        }
    }
}

impl MailTransport {
    /// Reads a `MITAI_MAIL` value; an SMTP URL is checked the way the send job will build
    /// it, so a bad one stops start-up.
    pub fn parse(value: &str) -> Result<MailTransport, String> {
        match value.trim() {
            "log" => Ok(MailTransport::Log),
            m if m.starts_with("file:") && m.len() > "file:".len() => {
                Ok(MailTransport::File(PathBuf::from(&m["file:".len()..])))
            }
            m if (m.starts_with("smtp://") || m.starts_with("smtps://"))
                && m.split_once("://")
                    .is_some_and(|(_, rest)| !rest.is_empty()) =>
            {
                smtp_transport(m).map_err(|e| e.to_string())?;
                Ok(MailTransport::Smtp(m.to_owned()))
            }
            _ => Err("expected log, file:DIR, smtp://… or smtps://…".into()),
        }
    }
}

/// How long one SMTP command may take (the outbox lease is much longer).
const SMTP_TIMEOUT: Duration = Duration::from_secs(20);

/// A rendered message, ready for a transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// The outbox id; also the `Message-ID` and the `.eml` file name.
    pub id: Uuid,
    pub from: String,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Why a message was not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Will fail again (a bad address, a permanent SMTP refusal): give up.
    #[error("{0}")]
    Permanent(String),
    /// May work later (server down, timeout, temporary refusal): retry.
    #[error("{0}")]
    Transient(String),
}

/// Where mail goes.
#[derive(Clone)]
pub enum Transport {
    /// SMTP with STARTTLS when offered (`smtp://`) or TLS from the start (`smtps://`).
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// One `.eml` file per message in this folder.
    File(PathBuf),
    /// Into the log (development).
    Log,
    /// Kept in memory (tests).
    Memory(Arc<Mutex<Vec<Outgoing>>>),
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Transport::Smtp(_) => f.write_str("Smtp"),
            Transport::File(dir) => write!(f, "File({})", dir.display()),
            Transport::Log => f.write_str("Log"),
            Transport::Memory(_) => f.write_str("Memory"),
        }
    }
}

impl Transport {
    /// The transport `MITAI_MAIL` names.
    pub fn from_config(mail: &MailTransport) -> anyhow::Result<Transport> {
        Ok(match mail {
            MailTransport::Log => Transport::Log,
            MailTransport::File(dir) => Transport::File(dir.clone()),
            MailTransport::Smtp(url) => Transport::Smtp(smtp_transport(url)?),
        })
    }

    /// A memory transport and the list it fills.
    pub fn memory() -> (Transport, Arc<Mutex<Vec<Outgoing>>>) {
        let sent = Arc::new(Mutex::new(Vec::new()));
        (Transport::Memory(Arc::clone(&sent)), sent)
    }

    pub async fn send(&self, mail: &Outgoing) -> Result<(), SendError> {
        match self {
            Transport::Smtp(smtp) => {
                let message = message(mail)?;
                smtp.send(message).await.map(|_| ()).map_err(|e| {
                    let why = error_chain(&e);
                    if e.is_permanent() {
                        SendError::Permanent(why)
                    } else {
                        SendError::Transient(why)
                    }
                })
            }
            Transport::File(dir) => {
                let bytes = message(mail)?.formatted();
                write_eml(dir, mail.id, bytes).await
            }
            Transport::Log => {
                // Tokens are in the text: this transport is for development only.
                tracing::info!(
                    id = %mail.id, to = %mail.to, subject = %mail.subject, text = %mail.text,
                    "mail (MITAI_MAIL=log)"
                );
                Ok(())
            }
            Transport::Memory(sent) => {
                message(mail)?;
                sent.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(mail.clone());
                Ok(())
            }
        }
    }
}

/// The SMTP transport of a `smtp://user:pass@host:port` or `smtps://…` URL.
///
/// `smtp://` uses STARTTLS when the server offers it (lettre's `tls=opportunistic`,
/// default port 587); `?tls=required` insists on it and `?tls=none` never uses it
/// (port 25). `smtps://` speaks TLS from the start (port 465). User and password are
/// percent-decoded; a path names the EHLO host (`smtp://host/mitai.example.org`).
pub fn smtp_transport(url: &str) -> anyhow::Result<AsyncSmtpTransport<Tokio1Executor>> {
    let url = with_tls_default(url);
    let builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(&url)
        .map_err(|e| anyhow::anyhow!("{}", error_chain(&e)))?;
    Ok(builder.timeout(Some(SMTP_TIMEOUT)).build())
}

/// `smtp://` URLs without `tls=` get `tls=opportunistic`; `tls=none` is removed (lettre's
/// plain SMTP).
fn with_tls_default(url: &str) -> String {
    if !url.starts_with("smtp://") {
        return url.to_owned();
    }
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut pairs: Vec<&str> = query.split('&').filter(|p| !p.is_empty()).collect();
    let tls = pairs.iter().position(|p| p.starts_with("tls="));
    match tls {
        Some(i) if pairs[i] == "tls=none" => {
            pairs.remove(i);
        }
        Some(_) => {}
        None => pairs.push("tls=opportunistic"),
    }
    if pairs.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", pairs.join("&"))
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    out
}

/// The MIME message: text and HTML alternatives, `Message-ID` from the outbox id.
fn message(mail: &Outgoing) -> Result<Message, SendError> {
    let from: Mailbox = mail
        .from
        .parse()
        .map_err(|e| SendError::Permanent(format!("sender {:?}: {e}", mail.from)))?;
    let to: Mailbox = mail
        .to
        .parse()
        .map_err(|e| SendError::Permanent(format!("recipient {:?}: {e}", mail.to)))?;
    let domain = from.email.domain().to_owned();
    Message::builder()
        .message_id(Some(format!("<{}@{domain}>", mail.id)))
        .from(from)
        .to(to)
        .subject(mail.subject.clone())
        .multipart(MultiPart::alternative_plain_html(
            mail.text.clone(),
            mail.html.clone(),
        ))
        .map_err(|e| SendError::Permanent(format!("building the message: {e}")))
}

/// Writes `<dir>/<id>.eml` atomically: a temporary file, synced, then renamed, so a
/// reader never sees half a message.
async fn write_eml(dir: &Path, id: Uuid, bytes: Vec<u8>) -> Result<(), SendError> {
    let dir = dir.to_owned();
    tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        use std::io::Write;
        std::fs::create_dir_all(&dir)?;
        let tmp = dir.join(format!(".{id}.eml.tmp"));
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, dir.join(format!("{id}.eml")))
    })
    .await
    .map_err(|e| SendError::Transient(format!("writing the .eml: {e}")))?
    .map_err(|e| SendError::Transient(format!("writing the .eml: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outgoing(to: &str) -> Outgoing {
        Outgoing {
            id: Uuid::now_v7(),
            from: "Mitai <noreply@example.org>".into(),
            to: to.into(),
            subject: "Grüße".into(),
            text: "Hallo\n".into(),
            html: "<p>Hallo</p>\n".into(),
        }
    }

    #[test]
    fn smtp_urls_default_to_opportunistic_tls() {
        assert_eq!(
            with_tls_default("smtp://u:p@host:2525"),
            "smtp://u:p@host:2525?tls=opportunistic"
        );
        assert_eq!(with_tls_default("smtp://host?tls=none"), "smtp://host");
        assert_eq!(
            with_tls_default("smtp://host?tls=required"),
            "smtp://host?tls=required"
        );
        assert_eq!(with_tls_default("smtps://host"), "smtps://host");
        assert!(smtp_transport("smtp://user:secret@127.0.0.1:2525").is_ok());
        assert!(smtp_transport("smtps://mail.example.org").is_ok());
        assert!(smtp_transport("smtp://host?tls=sometimes").is_err());
    }

    #[tokio::test]
    async fn file_transport_writes_one_eml_per_message() {
        let dir = std::env::temp_dir().join(format!("mitai-mail-{}", Uuid::now_v7().simple()));
        let transport = Transport::File(dir.clone());
        let mail = outgoing("anna@example.org");
        transport.send(&mail).await.expect("send");
        let files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(files, [format!("{}.eml", mail.id)]);
        let eml = std::fs::read_to_string(dir.join(&files[0])).unwrap();
        assert!(eml.contains("To: anna@example.org"), "{eml}");
        assert!(eml.contains(&format!("Message-ID: <{}@example.org>", mail.id)));
        assert!(eml.contains("multipart/alternative"));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[tokio::test]
    async fn bad_addresses_are_permanent_failures() {
        let (transport, sent) = Transport::memory();
        let err = transport
            .send(&outgoing("not an address"))
            .await
            .unwrap_err();
        assert!(matches!(err, SendError::Permanent(_)), "{err:?}");
        transport.send(&outgoing("ok@example.org")).await.unwrap();
        assert_eq!(sent.lock().unwrap().len(), 1);
    }
}
