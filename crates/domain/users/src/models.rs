//! Validated value types of the users domain (parse, don't validate) and the user aggregate.

use crate::errors::UserError;
use ingenio_kernel::chrono::{DateTime, Utc};
use ingenio_kernel::{TenantId, UserId};
use serde::{Deserialize, Serialize};
use std::fmt;

/// 3–20 characters of `[A-Za-z0-9_]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, UserError> {
        let s = raw.trim();
        let len = s.chars().count();
        if !(3..=20).contains(&len) {
            return Err(UserError::invalid("username", "must be 3 to 20 characters"));
        }
        if !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(UserError::invalid(
                "username",
                "may contain only letters, digits and underscores",
            ));
        }
        Ok(Self(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A syntactically valid email address, stored lower-cased.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, UserError> {
        let s = raw.trim().to_lowercase();
        let bad = || UserError::invalid("email", "must be a valid email address");
        if s.is_empty() || s.len() > 254 || s.chars().any(char::is_whitespace) {
            return Err(bad());
        }
        let (local, domain) = s.split_once('@').ok_or_else(bad)?;
        if local.is_empty()
            || local.len() > 64
            || domain.contains('@')
            || !domain.contains('.')
            || domain.starts_with('.')
            || domain.ends_with('.')
            || domain.contains("..")
        {
            return Err(bad());
        }
        Ok(Self(s))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A new password as typed by the user: 8–128 characters with at least one letter and one digit.
/// Never printed: `Debug` is redacted.
#[derive(Clone)]
pub struct NewPassword(String);

impl NewPassword {
    pub fn parse(field: &str, raw: &str) -> Result<Self, UserError> {
        let len = raw.chars().count();
        if !(8..=128).contains(&len) {
            return Err(UserError::invalid(field, "must be 8 to 128 characters"));
        }
        if !raw.chars().any(|c| c.is_alphabetic()) || !raw.chars().any(|c| c.is_ascii_digit()) {
            return Err(UserError::invalid(
                field,
                "must contain at least one letter and one digit",
            ));
        }
        Ok(Self(raw.to_owned()))
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewPassword(**redacted**)")
    }
}

/// What a user may do. Stored as `admin|user|viewer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    User,
    Viewer,
}

impl Role {
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::User => "user",
            Role::Viewer => "viewer",
        }
    }
    pub fn parse(s: &str) -> Result<Self, UserError> {
        match s {
            "admin" => Ok(Role::Admin),
            "user" => Ok(Role::User),
            "viewer" => Ok(Role::Viewer),
            _ => Err(UserError::invalid("role", "must be admin, user or viewer")),
        }
    }
}

/// Account status. Only `active` accounts may log in or use their tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UserStatus {
    Active,
    Inactive,
    Suspended,
}

impl UserStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            UserStatus::Active => "active",
            UserStatus::Inactive => "inactive",
            UserStatus::Suspended => "suspended",
        }
    }
    pub fn parse(s: &str) -> Result<Self, UserError> {
        match s {
            "active" => Ok(UserStatus::Active),
            "inactive" => Ok(UserStatus::Inactive),
            "suspended" => Ok(UserStatus::Suspended),
            _ => Err(UserError::invalid(
                "status",
                "must be active, inactive or suspended",
            )),
        }
    }
}

/// A stored user account.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: UserId,
    pub tenant_id: TenantId,
    pub username: String,
    pub email: String,
    pub password_hash: String,
    pub role: Role,
    pub permissions: Vec<String>,
    pub status: UserStatus,
    pub display_name: Option<String>,
    pub avatar_url: Option<String>,
    pub bio: Option<String>,
    pub last_login_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A user to insert; the hash is already computed.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub tenant_id: TenantId,
    pub username: Username,
    pub email: Email,
    pub password_hash: String,
    pub role: Role,
}

/// A validated profile change; `None` leaves a field as it is, `Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProfileUpdate {
    pub display_name: Option<Option<String>>,
    pub avatar_url: Option<Option<String>>,
    pub bio: Option<Option<String>>,
}

impl ProfileUpdate {
    /// Validates raw optional fields (an empty string clears the field).
    pub fn parse(
        display_name: Option<&str>,
        avatar_url: Option<&str>,
        bio: Option<&str>,
    ) -> Result<Self, UserError> {
        fn text(
            field: &str,
            v: Option<&str>,
            max: usize,
        ) -> Result<Option<Option<String>>, UserError> {
            match v.map(str::trim) {
                None => Ok(None),
                Some("") => Ok(Some(None)),
                Some(s) if s.chars().count() > max => Err(UserError::invalid(
                    field,
                    format!("must be at most {max} characters"),
                )),
                Some(s) if s.chars().any(|c| c.is_control() && c != '\n') => Err(
                    UserError::invalid(field, "must not contain control characters"),
                ),
                Some(s) => Ok(Some(Some(s.to_owned()))),
            }
        }
        let avatar = text("avatarUrl", avatar_url, 500)?;
        if let Some(Some(url)) = &avatar {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(UserError::invalid("avatarUrl", "must be an http(s) URL"));
            }
        }
        Ok(Self {
            display_name: text("displayName", display_name, 100)?,
            avatar_url: avatar,
            bio: text("bio", bio, 500)?,
        })
    }
}

/// Who is calling, as proven by a verified, unrevoked access token of an active account.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    pub user_id: UserId,
    pub tenant_id: TenantId,
    pub role: Role,
    /// The access token's id, revoked on logout.
    pub jti: ingenio_kernel::uuid::Uuid,
    pub expires_at: DateTime<Utc>,
    /// The session (refresh-token family) of the token, ended on logout; `None` for tokens
    /// issued before sessions were named.
    pub session_id: Option<ingenio_kernel::uuid::Uuid>,
}

impl Principal {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
    /// Whether the caller may create or change content: every role but `viewer`.
    pub fn can_write(&self) -> bool {
        self.role != Role::Viewer
    }
}

/// The tokens handed to a client after register, login or refresh.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthTokens {
    pub access_token: String,
    pub refresh_token: String,
    /// Access token lifetime in seconds.
    pub expires_in: u64,
    pub user: User,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn username_rules() {
        assert!(Username::parse("ab").is_err());
        assert!(Username::parse("abc").is_ok());
        assert!(Username::parse("a_b_9").is_ok());
        assert!(Username::parse("has space").is_err());
        assert!(Username::parse("名字名字").is_err());
        assert!(Username::parse(&"a".repeat(21)).is_err());
    }

    #[test]
    fn email_rules() {
        assert_eq!(
            Email::parse(" Ann@Example.COM ")
                .map(|e| e.as_str().to_owned())
                .ok(),
            Some("ann@example.com".to_owned())
        );
        for bad in [
            "", "no-at", "a@b", "a@@b.c", "@b.c", "a@.b.c", "a b@c.d", "a@b..c",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn password_rules_and_redaction() {
        assert!(NewPassword::parse("password", "short1").is_err());
        assert!(NewPassword::parse("password", "onlyletters").is_err());
        assert!(NewPassword::parse("password", "12345678").is_err());
        let p = NewPassword::parse("password", "secret123");
        assert!(p.is_ok());
        assert!(!format!("{p:?}").contains("secret123"));
    }

    #[test]
    fn profile_update_clears_and_validates() {
        let u = ProfileUpdate::parse(Some(""), None, Some("hello"));
        assert_eq!(
            u.ok(),
            Some(ProfileUpdate {
                display_name: Some(None),
                avatar_url: None,
                bio: Some(Some("hello".into()))
            })
        );
        assert!(ProfileUpdate::parse(None, Some("javascript:alert(1)"), None).is_err());
        assert!(ProfileUpdate::parse(Some(&"x".repeat(101)), None, None).is_err());
    }
}
