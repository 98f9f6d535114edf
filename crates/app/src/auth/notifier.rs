//! Password-reset delivery: mail through the SMTP adapter, sent in the background so the answer
//! never waits for (or reveals) it; the log in dev without mail (the token is printed); and,
//! without either, a notifier that records the request without the token.

use crate::telemetry::metrics::Metrics;
use async_trait::async_trait;
use ingenio_users::{ResetNotifier, User};
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

/// Counter of reset mails by outcome (`sent`, `failed`, `timeout`).
pub const RESET_MAIL_METRIC: &str = "ingenio_reset_mail_total";
const RESET_MAIL_HELP: &str = "Password-reset mails by outcome (sent, failed, timeout)";

/// Prints the reset token to the log (profile dev without a mail transport;
/// `ingenio.auth.log-reset-tokens=true`, refused in prod).
pub struct LogNotifier;

#[async_trait]
impl ResetNotifier for LogNotifier {
    async fn send_reset(&self, user: &User, token: &str) -> anyhow::Result<()> {
        tracing::info!(user_id = %user.id, email = %user.email, reset_token = %token, "password reset requested");
        Ok(())
    }
}

/// Never writes the token anywhere; notes that no mail transport is configured.
pub struct NoMailNotifier;

#[async_trait]
impl ResetNotifier for NoMailNotifier {
    async fn send_reset(&self, user: &User, _token: &str) -> anyhow::Result<()> {
        tracing::warn!(user_id = %user.id, "password reset requested but no mail transport is configured (MAIL_HOST); the token was not delivered");
        Ok(())
    }
}

/// Hands each reset to `inner` on a background task bounded by `timeout`, and answers `Ok` at
/// once: the HTTP answer is the same, and as fast, whether or not the account exists or the mail
/// server is up. Outcomes are logged inside the request's span (so with its `trace_id`) and
/// counted as `ingenio_reset_mail_total{outcome}`.
pub struct BackgroundNotifier {
    inner: Arc<dyn ResetNotifier>,
    timeout: Duration,
    metrics: Metrics,
}

impl BackgroundNotifier {
    pub fn new(inner: Arc<dyn ResetNotifier>, timeout: Duration, metrics: Metrics) -> Self {
        for outcome in ["sent", "failed", "timeout"] {
            metrics.add_counter(
                RESET_MAIL_METRIC,
                RESET_MAIL_HELP,
                &[("outcome", outcome)],
                0.0,
            );
        }
        Self {
            inner,
            timeout,
            metrics,
        }
    }
}

#[async_trait]
impl ResetNotifier for BackgroundNotifier {
    async fn send_reset(&self, user: &User, token: &str) -> anyhow::Result<()> {
        let inner = self.inner.clone();
        let metrics = self.metrics.clone();
        let timeout = self.timeout;
        let user = user.clone();
        let token = token.to_owned();
        let task = async move {
            let outcome = match tokio::time::timeout(timeout, inner.send_reset(&user, &token)).await
            {
                Ok(Ok(())) => {
                    tracing::info!(user_id = %user.id, "password-reset mail sent");
                    "sent"
                }
                Ok(Err(e)) => {
                    tracing::error!(user_id = %user.id, error = format!("{e:#}"), "password-reset mail failed");
                    "failed"
                }
                Err(_) => {
                    tracing::error!(user_id = %user.id, timeout_ms = timeout.as_millis() as u64, "password-reset mail timed out");
                    "timeout"
                }
            };
            metrics.inc_counter(RESET_MAIL_METRIC, RESET_MAIL_HELP, &[("outcome", outcome)]);
        };
        tokio::spawn(task.instrument(tracing::Span::current()));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use std::time::Instant;

    struct Slow(Duration, bool);

    #[async_trait]
    impl ResetNotifier for Slow {
        async fn send_reset(&self, _: &User, _: &str) -> anyhow::Result<()> {
            tokio::time::sleep(self.0).await;
            if self.1 {
                Ok(())
            } else {
                anyhow::bail!("550 mailbox unavailable")
            }
        }
    }

    fn user() -> User {
        ingenio_users::testing::active_user("leo", "leo@example.com")
    }

    fn count(metrics: &Metrics, outcome: &str) -> String {
        let text = metrics.render();
        let prefix = format!("{RESET_MAIL_METRIC}{{outcome=\"{outcome}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix).map(str::to_owned))
            .unwrap_or_default()
    }

    #[tokio::test]
    async fn answers_at_once_and_counts_each_outcome() {
        let metrics = Metrics::new().unwrap();
        for (delay, ok) in [(10, true), (10, false), (5_000, true)] {
            let n = BackgroundNotifier::new(
                Arc::new(Slow(Duration::from_millis(delay), ok)),
                Duration::from_millis(200),
                metrics.clone(),
            );
            let start = Instant::now();
            n.send_reset(&user(), "t").await.unwrap();
            assert!(start.elapsed() < Duration::from_millis(100));
        }
        assert_eq!(count(&metrics, "sent"), "0");
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(count(&metrics, "sent"), "1");
        assert_eq!(count(&metrics, "failed"), "1");
        assert_eq!(count(&metrics, "timeout"), "1");
    }
}
