//! The password-reset mail: its bilingual (Chinese, then English) text and the notifier that
//! sends it through the `Mailer` port.

use crate::models::User;
use crate::ports::{Mail, Mailer, ResetNotifier};
use async_trait::async_trait;
use ingenio_kernel::chrono::Duration;
use std::sync::Arc;

/// Subject of the reset mail, both languages.
pub const RESET_SUBJECT: &str = "重置您的 Ingenio 密码 / Reset your Ingenio password";

/// The reset mail for `user`. `link_base` (a page of the web client that reads `?token=`) adds a
/// link; the token itself is always in the text so it can be pasted by hand.
pub fn reset_mail(user: &User, token: &str, ttl: Duration, link_base: Option<&str>) -> Mail {
    let minutes = ttl.num_minutes().max(1);
    let link = link_base
        .map(str::trim)
        .filter(|base| !base.is_empty())
        .map(|base| {
            let sep = if base.contains('?') { '&' } else { '?' };
            format!("{base}{sep}token={token}")
        });
    let (zh_link, en_link) = match &link {
        Some(link) => (
            format!("打开以下链接设置新密码：\n{link}\n\n或在重置页面输入此令牌："),
            format!("Open this link to choose a new password:\n{link}\n\nor enter this token on the reset page:"),
        ),
        None => (
            "请在重置页面输入此令牌：".to_owned(),
            "Enter this token on the reset page:".to_owned(),
        ),
    };
    let text = format!(
        "{name}，您好：\n\n\
         我们收到了重置您 Ingenio 账户密码的请求。{zh_link}\n\n{token}\n\n\
         该令牌 {minutes} 分钟内有效，且只能使用一次。如果这不是您本人的操作，请忽略此邮件，您的密码不会改变。\n\n\
         ----\n\n\
         Hello {name},\n\n\
         We received a request to reset the password of your Ingenio account. {en_link}\n\n{token}\n\n\
         The token is valid for {minutes} minutes and can be used once. If you did not ask for this, \
         ignore this mail; your password stays as it is.\n",
        name = user.username,
    );
    Mail {
        to: user.email.clone(),
        subject: RESET_SUBJECT.to_owned(),
        text,
    }
}

/// Mails reset tokens through a [`Mailer`].
pub struct MailResetNotifier {
    mailer: Arc<dyn Mailer>,
    ttl: Duration,
    link_base: Option<String>,
}

impl MailResetNotifier {
    /// `ttl` is the token lifetime quoted in the mail; `link_base` as in [`reset_mail`].
    pub fn new(mailer: Arc<dyn Mailer>, ttl: Duration, link_base: Option<String>) -> Self {
        Self {
            mailer,
            ttl,
            link_base,
        }
    }
}

#[async_trait]
impl ResetNotifier for MailResetNotifier {
    async fn send_reset(&self, user: &User, token: &str) -> anyhow::Result<()> {
        let mail = reset_mail(user, token, self.ttl, self.link_base.as_deref());
        self.mailer.send(&mail).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use std::sync::Mutex;

    fn user() -> User {
        crate::testing::active_user("leo", "leo@example.com")
    }

    #[test]
    fn the_mail_carries_the_token_in_both_languages() {
        let token = "ab".repeat(32);
        let mail = reset_mail(&user(), &token, Duration::minutes(30), None);
        assert_eq!(mail.to, "leo@example.com");
        assert_eq!(mail.subject, RESET_SUBJECT);
        assert_eq!(mail.text.matches(&token).count(), 2, "{}", mail.text);
        assert!(mail.text.contains("30 分钟"), "{}", mail.text);
        assert!(mail.text.contains("30 minutes"), "{}", mail.text);
        assert!(!mail.text.contains("http"), "{}", mail.text);
        let zh = mail.text.find("您好").unwrap();
        let en = mail.text.find("Hello").unwrap();
        assert!(zh < en);
    }

    #[test]
    fn a_link_base_adds_a_link_with_the_token() {
        let token = "0f".repeat(32);
        for (base, link) in [
            (
                "https://app.example.com/reset",
                format!("https://app.example.com/reset?token={token}"),
            ),
            (
                "https://x.example/r?lang=zh",
                format!("https://x.example/r?lang=zh&token={token}"),
            ),
        ] {
            let mail = reset_mail(&user(), &token, Duration::minutes(5), Some(base));
            assert_eq!(mail.text.matches(&link).count(), 2, "{}", mail.text);
        }
        let blank = reset_mail(&user(), &token, Duration::minutes(5), Some("  "));
        assert!(!blank.text.contains("?token="), "{}", blank.text);
    }

    #[derive(Default)]
    struct Capture(Mutex<Vec<Mail>>);

    #[async_trait]
    impl Mailer for Capture {
        async fn send(&self, mail: &Mail) -> anyhow::Result<()> {
            self.0.lock().unwrap().push(mail.clone());
            Ok(())
        }
    }

    #[tokio::test]
    async fn the_notifier_sends_through_the_mailer() {
        let capture = Arc::new(Capture::default());
        let notifier = MailResetNotifier::new(capture.clone(), Duration::minutes(30), None);
        notifier.send_reset(&user(), "tok3n").await.unwrap();
        let sent = capture.0.lock().unwrap().clone();
        assert_eq!(sent.len(), 1);
        assert!(sent[0].text.contains("tok3n"));
    }
}
