//! Password-reset delivery: the log in dev (the token is printed), and in prod a notifier that
//! records the request without the token until a mail transport is configured.

use async_trait::async_trait;
use ingenio_users::{ResetNotifier, User};

/// Prints the reset token to the log (profile dev; `ingenio.auth.log-reset-tokens=true`).
pub struct LogNotifier;

#[async_trait]
impl ResetNotifier for LogNotifier {
    async fn send_reset(&self, user: &User, token: &str) -> anyhow::Result<()> {
        tracing::info!(user_id = %user.id, email = %user.email, reset_token = %token, "password reset requested");
        Ok(())
    }
}

/// Never writes the token anywhere; warns that no mail transport is configured.
pub struct NoMailNotifier;

#[async_trait]
impl ResetNotifier for NoMailNotifier {
    async fn send_reset(&self, user: &User, _token: &str) -> anyhow::Result<()> {
        tracing::warn!(user_id = %user.id, "password reset requested but no mail transport is configured; the token was not delivered");
        Ok(())
    }
}
