//! Password hashing: argon2id for new hashes; bcrypt (`$2a$`/`$2b$`/`$2y$`) still verifies and
//! is reported as needing a rehash so the next login upgrades it. Hashing runs on the blocking
//! pool so it never stalls the async workers.

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use async_trait::async_trait;
use ingenio_users::{PasswordCheck, PasswordHasher};

/// argon2id with OWASP's recommended minimum (19 MiB, 2 passes, 1 lane) unless told otherwise.
#[derive(Debug, Clone)]
pub struct Argon2Hasher {
    params: Params,
}

impl Default for Argon2Hasher {
    fn default() -> Self {
        Self {
            params: Params::new(19 * 1024, 2, 1, None).unwrap_or_default(),
        }
    }
}

impl Argon2Hasher {
    fn argon(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }
}

#[async_trait]
impl PasswordHasher for Argon2Hasher {
    async fn hash(&self, password: &str) -> anyhow::Result<String> {
        let argon = self.argon();
        let password = password.to_owned();
        tokio::task::spawn_blocking(move || {
            let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
            argon
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| anyhow::anyhow!("hash password: {e}"))
        })
        .await?
    }

    async fn verify(&self, password: &str, hash: &str) -> anyhow::Result<PasswordCheck> {
        let argon = self.argon();
        let wanted = self.params.clone();
        let password = password.to_owned();
        let hash = hash.to_owned();
        let check = tokio::task::spawn_blocking(move || {
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
        })
        .await?;
        Ok(check)
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
