//! Credentials: password hashing (argon2id, on threads of its own) and the random tokens of
//! sessions and e-mailed links, stored only as hashes.

use std::sync::{Arc, LazyLock, Mutex};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::RngCore;
use sha2::{Digest, Sha256};

pub use mitai_access::accounts::{validate_email, validate_password};

/// Argon2 runs on a few threads of its own, one per core, so that at most one hash per
/// core runs at once: each takes 19 MiB and a core for tens of milliseconds, so a burst of
/// logins or registrations queues here instead of taking memory and every core at once.
/// The same threads hash every time, so the memory of one hash is reused by the next
/// instead of staying behind in the allocator of ever new blocking threads.
static HASHERS: LazyLock<Mutex<std::sync::mpsc::Sender<HashJob>>> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    let (jobs, queue) = std::sync::mpsc::channel::<HashJob>();
    let queue = Arc::new(Mutex::new(queue));
    for n in 0..cores {
        let queue = Arc::clone(&queue);
        let spawned = std::thread::Builder::new()
            .name(format!("mitai-argon2-{n}"))
            .spawn(move || {
                loop {
                    // Take the next job (the lock is held only while waiting for it).
                    let job = queue.lock().unwrap_or_else(|p| p.into_inner()).recv();
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start a password-hashing thread");
        }
    }
    Mutex::new(jobs)
});

type HashJob = Box<dyn FnOnce() + Send>;

/// Runs `work` on a hashing thread and waits for its answer.
async fn on_hasher<T: Send + 'static>(
    work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    let (answer, answered) = tokio::sync::oneshot::channel();
    let job: HashJob = Box::new(move || {
        let _ = answer.send(work());
    });
    HASHERS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .send(job)
        .map_err(|_| anyhow::anyhow!("no password-hashing thread is running"))?;
    answered
        .await
        .map_err(|_| anyhow::anyhow!("the password-hashing thread stopped"))?
}

/// The password hasher: argon2id with the crate's default cost (19 MiB, 2 passes), or its
/// least cost in a build for the test suite (feature `test-hashing`).
fn argon2() -> Argon2<'static> {
    if cfg!(feature = "test-hashing") {
        let params =
            argon2::Params::new(argon2::Params::MIN_M_COST, 1, 1, None).unwrap_or_default();
        Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
    } else {
        Argon2::default()
    }
}

/// Hashes a password with argon2id on a hashing thread.
pub async fn hash_password(password: String) -> anyhow::Result<String> {
    on_hasher(move || {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        argon2()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("hashing failed: {e}"))
    })
    .await
}

/// A hash of a password nobody knows, verified when the account does not exist so that
/// a login for an unknown e-mail takes as long as one for a known e-mail.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    argon2()
        .hash_password(b"no account has this password", &salt)
        .map(|h| h.to_string())
        .unwrap_or_default()
});

/// Verifies a password against a stored hash (or the dummy) on a hashing thread.
pub async fn verify_password(password: String, hash: Option<String>) -> anyhow::Result<bool> {
    on_hasher(move || {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| DUMMY_HASH.clone());
        let parsed = PasswordHash::new(&hash).map_err(|e| anyhow::anyhow!("stored hash: {e}"))?;
        let ok = argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        Ok(ok && known)
    })
    .await
}

/// A new random session token (256 bits, hex).
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// What is stored for a token: its SHA-256, so a database leak reveals no session.
pub fn token_hash(token: &str) -> String {
    // Every authenticated request hashes its token: written into a buffer at once rather
    // than pushed as a `String` character by character (`hex::encode`).
    let mut text = [0u8; 64];
    match hex::encode_to_slice(Sha256::digest(token.as_bytes()), &mut text) {
        Ok(()) => String::from_utf8_lossy(&text).into_owned(),
        Err(_) => hex::encode(Sha256::digest(token.as_bytes())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stored hash of a token is the lowercase hex of its SHA-256.
    #[test]
    fn token_hash_is_lowercase_hex_sha256() {
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let token = new_token();
        assert_eq!(
            token_hash(&token),
            hex::encode(Sha256::digest(token.as_bytes()))
        );
    }

    #[tokio::test]
    async fn hash_and_verify() {
        let hash = hash_password("correct horse".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(
            verify_password("correct horse".into(), Some(hash.clone()))
                .await
                .unwrap()
        );
        assert!(
            !verify_password("wrong horse".into(), Some(hash))
                .await
                .unwrap()
        );
        assert!(!verify_password("anything".into(), None).await.unwrap());
    }

    #[test]
    fn tokens_are_random_and_hashed() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert_eq!(token_hash(&a).len(), 64);
        assert_ne!(token_hash(&a), a);
    }
}
