//! JWT HS256 tokens (`jsonwebtoken`) with key rotation: `JWT_SECRET` signs and verifies,
//! `JWT_SECRET_PREVIOUS` still verifies; the `kid` header names the key that signed a token.
//! Signing is deterministic: the same user and grant (ids, session, issue time) give the same
//! token, which is how a refresh race hands out one pair twice.

use chrono::{DateTime, Duration, Utc};
use ingenio_kernel::{Clock, TenantId, UserId};
use ingenio_users::{
    AccessClaims, Grant, RefreshClaims, Role, SignedToken, TokenError, TokenService, User,
};
use jsonwebtoken::{
    decode, decode_header, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation,
};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use uuid::Uuid;

const ACCESS: &str = "access";
const REFRESH: &str = "refresh";

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    tid: String,
    role: String,
    jti: String,
    iat: i64,
    exp: i64,
    iss: String,
    typ: String,
    /// The session (refresh-token family); absent in tokens issued before sessions were named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sid: Option<String>,
    /// Issue time in milliseconds (`iat` has whole seconds only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    iat_ms: Option<i64>,
}

struct Key {
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl Key {
    fn new(secret: &[u8]) -> Self {
        let digest = Sha256::digest(secret);
        Self {
            kid: hex::encode(&digest[..8]),
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
        }
    }
}

/// Token issuing and verification with one current and an optional previous key.
pub struct JwtTokens {
    current: Key,
    previous: Option<Key>,
    issuer: String,
    access_ttl: Duration,
    refresh_ttl: Duration,
    clock: Arc<dyn Clock>,
}

impl JwtTokens {
    pub fn new(
        secret: &[u8],
        previous: Option<&[u8]>,
        issuer: &str,
        access_ttl_seconds: u64,
        refresh_ttl_seconds: u64,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            current: Key::new(secret),
            previous: previous.filter(|p| !p.is_empty()).map(Key::new),
            issuer: issuer.to_owned(),
            access_ttl: Duration::seconds(i64::try_from(access_ttl_seconds).unwrap_or(7200)),
            refresh_ttl: Duration::seconds(i64::try_from(refresh_ttl_seconds).unwrap_or(604_800)),
            clock,
        }
    }

    fn sign(
        &self,
        typ: &str,
        user: &User,
        grant: &Grant,
        ttl: Duration,
    ) -> anyhow::Result<SignedToken> {
        let now = grant.issued_at;
        let exp = now + ttl;
        let jti = if typ == ACCESS {
            grant.access_jti
        } else {
            grant.refresh_jti
        };
        let claims = Claims {
            sub: user.id.to_string(),
            tid: user.tenant_id.to_string(),
            role: user.role.as_str().to_owned(),
            jti: jti.to_string(),
            iat: now.timestamp(),
            exp: exp.timestamp(),
            iss: self.issuer.clone(),
            typ: typ.to_owned(),
            sid: Some(grant.session_id.to_string()),
            iat_ms: Some(now.timestamp_millis()),
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.current.kid.clone());
        let token = encode(&header, &claims, &self.current.encoding)?;
        Ok(SignedToken {
            token,
            jti,
            expires_at: DateTime::from_timestamp(exp.timestamp(), 0).unwrap_or(exp),
        })
    }

    fn verify(&self, token: &str, typ: &str) -> Result<Claims, TokenError> {
        let header = decode_header(token).map_err(|_| TokenError::Invalid)?;
        if header.alg != Algorithm::HS256 {
            return Err(TokenError::Invalid);
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_issuer(&[&self.issuer]);
        validation.set_required_spec_claims(&["exp", "sub", "iss"]);
        // verify exp ourselves against the injectable clock
        validation.validate_exp = false;
        let keys: Vec<&Key> = match (&header.kid, &self.previous) {
            (Some(kid), Some(prev)) if *kid == prev.kid => vec![prev],
            (Some(kid), _) if *kid == self.current.kid => vec![&self.current],
            (_, Some(prev)) => vec![&self.current, prev],
            (_, None) => vec![&self.current],
        };
        let mut claims = None;
        for key in keys {
            if let Ok(data) = decode::<Claims>(token, &key.decoding, &validation) {
                claims = Some(data.claims);
                break;
            }
        }
        let claims = claims.ok_or(TokenError::Invalid)?;
        if claims.exp + 5 < self.clock.now().timestamp() {
            return Err(TokenError::Expired);
        }
        if claims.typ != typ {
            return Err(TokenError::WrongKind);
        }
        Ok(claims)
    }
}

struct Parsed {
    user_id: UserId,
    tenant_id: TenantId,
    jti: Uuid,
    expires_at: DateTime<Utc>,
    issued_at: DateTime<Utc>,
    session_id: Option<Uuid>,
}

fn parse_ids(c: &Claims) -> Result<Parsed, TokenError> {
    Ok(Parsed {
        user_id: Uuid::parse_str(&c.sub)
            .map_err(|_| TokenError::Invalid)?
            .into(),
        tenant_id: Uuid::parse_str(&c.tid)
            .map_err(|_| TokenError::Invalid)?
            .into(),
        jti: Uuid::parse_str(&c.jti).map_err(|_| TokenError::Invalid)?,
        expires_at: DateTime::from_timestamp(c.exp, 0).ok_or(TokenError::Invalid)?,
        issued_at: DateTime::from_timestamp_millis(c.iat_ms.unwrap_or(c.iat.saturating_mul(1000)))
            .ok_or(TokenError::Invalid)?,
        session_id: c
            .sid
            .as_deref()
            .map(Uuid::parse_str)
            .transpose()
            .map_err(|_| TokenError::Invalid)?,
    })
}

impl TokenService for JwtTokens {
    fn issue_access(&self, user: &User, grant: &Grant) -> anyhow::Result<SignedToken> {
        self.sign(ACCESS, user, grant, self.access_ttl)
    }
    fn issue_refresh(&self, user: &User, grant: &Grant) -> anyhow::Result<SignedToken> {
        self.sign(REFRESH, user, grant, self.refresh_ttl)
    }
    fn verify_access(&self, token: &str) -> Result<AccessClaims, TokenError> {
        let c = self.verify(token, ACCESS)?;
        let p = parse_ids(&c)?;
        Ok(AccessClaims {
            user_id: p.user_id,
            tenant_id: p.tenant_id,
            role: Role::parse(&c.role).map_err(|_| TokenError::Invalid)?,
            jti: p.jti,
            expires_at: p.expires_at,
            issued_at: p.issued_at,
            session_id: p.session_id,
        })
    }
    fn verify_refresh(&self, token: &str) -> Result<RefreshClaims, TokenError> {
        let c = self.verify(token, REFRESH)?;
        let p = parse_ids(&c)?;
        Ok(RefreshClaims {
            user_id: p.user_id,
            tenant_id: p.tenant_id,
            jti: p.jti,
            expires_at: p.expires_at,
        })
    }
    fn access_ttl_seconds(&self) -> u64 {
        u64::try_from(self.access_ttl.num_seconds()).unwrap_or(0)
    }
    fn new_reset_token(&self) -> (String, String) {
        let mut bytes = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        let token = hex::encode(bytes);
        let hash = self.hash_reset_token(&token);
        (token, hash)
    }
    fn hash_reset_token(&self, token: &str) -> String {
        hex::encode(Sha256::digest(token.trim().as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use ingenio_kernel::SystemClock;
    use ingenio_users::UserStatus;

    fn user() -> User {
        User {
            id: UserId::new_random(),
            tenant_id: TenantId::default(),
            username: "alice".into(),
            email: "a@example.com".into(),
            password_hash: String::new(),
            role: Role::User,
            permissions: vec![],
            status: UserStatus::Active,
            display_name: None,
            avatar_url: None,
            bio: None,
            last_login_at: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    fn grant() -> Grant {
        Grant {
            session_id: Uuid::new_v4(),
            access_jti: Uuid::new_v4(),
            refresh_jti: Uuid::new_v4(),
            issued_at: Utc::now(),
        }
    }

    fn tokens(secret: &str, previous: Option<&str>) -> JwtTokens {
        JwtTokens::new(
            secret.as_bytes(),
            previous.map(str::as_bytes),
            "ingenio",
            7200,
            604_800,
            Arc::new(SystemClock),
        )
    }

    #[test]
    fn round_trip_and_kinds() {
        let t = tokens("a-secret-that-is-long-enough-0001", None);
        let u = user();
        let a = t.issue_access(&u, &grant()).unwrap();
        let c = t.verify_access(&a.token).unwrap();
        assert_eq!(c.user_id, u.id);
        assert_eq!(c.jti, a.jti);
        assert_eq!(t.verify_refresh(&a.token), Err(TokenError::WrongKind));
        assert_eq!(t.verify_access("garbage"), Err(TokenError::Invalid));
    }

    #[test]
    fn rotation_accepts_previous_key_and_rejects_unknown() {
        let old = tokens("old-secret-that-is-long-enough-01", None);
        let u = user();
        let a = old.issue_access(&u, &grant()).unwrap();
        let rotated = tokens(
            "new-secret-that-is-long-enough-02",
            Some("old-secret-that-is-long-enough-01"),
        );
        assert!(rotated.verify_access(&a.token).is_ok());
        let other = tokens("new-secret-that-is-long-enough-02", None);
        assert_eq!(other.verify_access(&a.token), Err(TokenError::Invalid));
    }

    #[test]
    fn the_same_grant_signs_the_same_tokens_with_session_and_millisecond_issue_time() {
        let t = tokens("a-secret-that-is-long-enough-0001", None);
        let (u, g) = (user(), grant());
        let a = t.issue_access(&u, &g).unwrap();
        assert_eq!(a.token, t.issue_access(&u, &g).unwrap().token);
        assert_eq!(
            t.issue_refresh(&u, &g).unwrap().token,
            t.issue_refresh(&u, &g).unwrap().token
        );
        let c = t.verify_access(&a.token).unwrap();
        assert_eq!(c.jti, g.access_jti);
        assert_eq!(c.session_id, Some(g.session_id));
        assert_eq!(
            c.issued_at.timestamp_millis(),
            g.issued_at.timestamp_millis()
        );
        let r = t.verify_refresh(&t.issue_refresh(&u, &g).unwrap().token);
        assert_eq!(r.unwrap().jti, g.refresh_jti);
    }

    #[test]
    fn tampered_token_is_invalid() {
        let t = tokens("a-secret-that-is-long-enough-0001", None);
        let a = t.issue_access(&user(), &grant()).unwrap();
        let mut parts: Vec<String> = a.token.split('.').map(str::to_owned).collect();
        parts[1] = parts[1].chars().rev().collect();
        assert_eq!(t.verify_access(&parts.join(".")), Err(TokenError::Invalid));
    }

    #[test]
    fn reset_tokens_hash_stably() {
        let t = tokens("a-secret-that-is-long-enough-0001", None);
        let (plain, hash) = t.new_reset_token();
        assert_eq!(plain.len(), 64);
        assert_eq!(t.hash_reset_token(&plain), hash);
    }
}
