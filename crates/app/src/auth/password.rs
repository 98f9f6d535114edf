//! Password hashing: argon2id for new hashes; bcrypt (`$2a$`/`$2b$`/`$2y$`) still verifies and
//! is reported as needing a rehash so the next login upgrades it. Hashing runs through the
//! shared bounded [`Offload`] helper so it never stalls the async workers, and at most
//! `max_concurrent` hashes (19 MiB each) run at once: a caller that cannot get a slot within
//! `wait` is answered `Saturated` (503 with `Retry-After`) instead of queueing without bound.

use crate::offload::{Offload, OffloadError};
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use async_trait::async_trait;
use ingenio_users::{HashError, PasswordCheck, PasswordHasher};
use std::time::Duration;

/// argon2id with OWASP's recommended minimum (19 MiB, 2 passes, 1 lane) unless told otherwise.
#[derive(Debug, Clone)]
pub struct Argon2Hasher {
    params: Params,
    pool: Offload,
}

impl Default for Argon2Hasher {
    /// Two hashes per core, callers wait up to half a second for a slot.
    fn default() -> Self {
        Self::bounded(0, Duration::from_millis(500))
    }
}

impl Argon2Hasher {
    /// At most `max_concurrent` hashes at once (0 = two per core); a caller waits at most `wait`
    /// for a slot.
    pub fn bounded(max_concurrent: usize, wait: Duration) -> Self {
        Self {
            params: Params::new(19 * 1024, 2, 1, None).unwrap_or_default(),
            pool: Offload::new("password hashing", max_concurrent, Some(wait)),
        }
    }

    fn argon(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }
}

/// A saturated pool is `Saturated` (503); a panic or a cancelled task is unexpected.
fn hash_error(e: OffloadError) -> HashError {
    match e {
        OffloadError::Saturated {
            retry_after_secs, ..
        } => HashError::Saturated { retry_after_secs },
        OffloadError::Panicked { what, .. } => anyhow::anyhow!("{what} panicked").into(),
        OffloadError::Failed { cause, .. } => cause.into(),
    }
}

#[async_trait]
impl PasswordHasher for Argon2Hasher {
    async fn hash(&self, password: &str) -> Result<String, HashError> {
        let argon = self.argon();
        let password = password.to_owned();
        let hashed = self.pool.run(move || {
            let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
            argon
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| anyhow::anyhow!("hash password: {e}"))
        });
        Ok(hashed.await.map_err(hash_error)??)
    }

    async fn verify(&self, password: &str, hash: &str) -> Result<PasswordCheck, HashError> {
        let argon = self.argon();
        let wanted = self.params.clone();
        let password = password.to_owned();
        let hash = hash.to_owned();
        let check = self.pool.run(move || {
            if hash.starts_with("$2a$") || hash.starts_with("$2b$") || hash.starts_with("$2y$") {
                return match bcrypt::verify(&password, &hash) {
                    Ok(true) => PasswordCheck::Valid { needs_rehash: true },
                    _ => PasswordCheck::Invalid,
                };
            }
            let Ok(parsed) = PasswordHash::new(&hash) else {
                return PasswordCheck::Invalid;
            };
            if argon.verify_password(password.as_bytes(), &parsed).is_err() {
                return PasswordCheck::Invalid;
            }
            let outdated = parsed.algorithm.as_str() != "argon2id"
                || Params::try_from(&parsed)
                    .map(|p| p.m_cost() < wanted.m_cost() || p.t_cost() < wanted.t_cost())
                    .unwrap_or(true);
            PasswordCheck::Valid {
                needs_rehash: outdated,
            }
        });
        check.await.map_err(hash_error)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[tokio::test]
    async fn argon2id_round_trip() {
        let h = Argon2Hasher::default();
        let hash = h.hash("secret123").await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert_eq!(
            h.verify("secret123", &hash).await.unwrap(),
            PasswordCheck::Valid {
                needs_rehash: false
            }
        );
        assert_eq!(
            h.verify("wrong", &hash).await.unwrap(),
            PasswordCheck::Invalid
        );
    }

    #[tokio::test]
    async fn saturated_hashing_is_refused_after_the_wait_and_recovers() {
        let h = Argon2Hasher::bounded(1, Duration::from_millis(20));
        let held = h.pool.permit().await.unwrap();
        let started = std::time::Instant::now();
        assert!(matches!(
            h.hash("secret123").await,
            Err(HashError::Saturated {
                retry_after_secs: 1
            })
        ));
        assert!(matches!(
            h.verify("secret123", "not-a-hash").await,
            Err(HashError::Saturated { .. })
        ));
        assert!(started.elapsed() < Duration::from_secs(2));
        drop(held);
        assert!(h.hash("secret123").await.is_ok());
        // the slot is given back after each hash
        assert_eq!(h.pool.available(), 1);
    }

    #[tokio::test]
    async fn bcrypt_verifies_and_asks_for_rehash() {
        let legacy = bcrypt::hash("secret123", 4).unwrap();
        let h = Argon2Hasher::default();
        assert_eq!(
            h.verify("secret123", &legacy).await.unwrap(),
            PasswordCheck::Valid { needs_rehash: true }
        );
        assert_eq!(
            h.verify("nope", &legacy).await.unwrap(),
            PasswordCheck::Invalid
        );
        assert_eq!(
            h.verify("x", "not-a-hash").await.unwrap(),
            PasswordCheck::Invalid
        );
    }
}
