//! Mail adapter: implements the users domain's `Mailer` port over SMTP with lettre (tokio,
//! rustls; STARTTLS or implicit TLS verified against the Mozilla roots).

use async_trait::async_trait;
use ingenio_users::{Mail, Mailer};
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// How the SMTP connection is secured (`ingenio.mail.starttls`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain SMTP (a local relay or a test sink); credentials travel in clear.
    None,
    /// Plain connect, then `STARTTLS`, which must succeed (port 587).
    StartTls,
    /// TLS from the first byte (SMTPS, port 465).
    Tls,
}

impl SmtpSecurity {
    pub const VALUES: &'static str = "none, starttls, tls";

    pub fn as_str(self) -> &'static str {
        match self {
            SmtpSecurity::None => "none",
            SmtpSecurity::StartTls => "starttls",
            SmtpSecurity::Tls => "tls",
        }
    }
}

impl fmt::Display for SmtpSecurity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SmtpSecurity {
    type Err = String;

    /// Case-insensitive; `true`/`false` are accepted as Spring's `starttls.enable` booleans.
    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "none" | "false" | "off" | "plain" => Ok(SmtpSecurity::None),
            "starttls" | "true" | "on" => Ok(SmtpSecurity::StartTls),
            "tls" | "ssl" | "smtps" => Ok(SmtpSecurity::Tls),
            _ => Err(format!(
                "must be one of {}, found {text:?}",
                SmtpSecurity::VALUES
            )),
        }
    }
}

/// Parses a sender address (`noreply@example.com` or `Ingenio <noreply@example.com>`).
pub fn parse_mailbox(text: &str) -> Result<Mailbox, String> {
    text.trim()
        .parse::<Mailbox>()
        .map_err(|e| format!("{text:?} is not a mail address: {e}"))
}

/// Where and how to send.
#[derive(Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    /// Empty = no authentication.
    pub username: String,
    pub password: String,
    /// The `From` address.
    pub from: String,
    /// Bounds the connection and every SMTP command.
    pub timeout: Duration,
}

impl fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("from", &self.from)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Sends each mail over a new SMTP connection (reset mails are rare; no pool to keep alive).
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// `host:port (security)`, for messages.
    target: String,
}

impl SmtpMailer {
    /// Validates the settings; does not connect.
    pub fn new(settings: &SmtpSettings) -> anyhow::Result<Self> {
        let host = settings.host.trim();
        if host.is_empty() {
            anyhow::bail!("no SMTP host configured");
        }
        let from = parse_mailbox(&settings.from).map_err(anyhow::Error::msg)?;
        let tls = || {
            TlsParameters::new(host.to_owned())
                .map_err(|e| anyhow::anyhow!("TLS settings for {host}: {e}"))
        };
        let tls = match settings.security {
            SmtpSecurity::None => Tls::None,
            SmtpSecurity::StartTls => Tls::Required(tls()?),
            SmtpSecurity::Tls => Tls::Wrapper(tls()?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(settings.port)
            .tls(tls)
            .timeout(Some(settings.timeout));
        if !settings.username.is_empty() {
            builder = builder.credentials(Credentials::new(
                settings.username.clone(),
                settings.password.clone(),
            ));
        }
        Ok(Self {
            transport: builder.build(),
            from,
            target: format!("{host}:{} ({})", settings.port, settings.security),
        })
    }
}

/// The MIME message of `mail`: `text/plain; charset=utf-8`, with the transfer encoding lettre
/// picks (quoted-printable for text with long or non-ASCII lines, which every server accepts;
/// the subject is RFC 2047-encoded).
pub fn build_message(from: &Mailbox, mail: &Mail) -> anyhow::Result<Message> {
    let to = parse_mailbox(&mail.to).map_err(anyhow::Error::msg)?;
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(mail.subject.clone())
        .singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_PLAIN)
                .body(mail.text.clone()),
        )
        .map_err(|e| anyhow::anyhow!("cannot build the mail: {e}"))
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, mail: &Mail) -> anyhow::Result<()> {
        let message = build_message(&self.from, mail)?;
        self.transport
            .send(message)
            .await
            .map_err(|e| anyhow::anyhow!("SMTP {}: {e}", self.target))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use proptest::prelude::*;

    fn settings(security: SmtpSecurity) -> SmtpSettings {
        SmtpSettings {
            host: "smtp.example.com".to_owned(),
            port: 587,
            security,
            username: "u".to_owned(),
            password: "hunter22".to_owned(),
            from: "Ingenio <noreply@example.com>".to_owned(),
            timeout: Duration::from_secs(5),
        }
    }

    #[test]
    fn settings_are_checked_without_connecting() {
        for s in [
            SmtpSecurity::None,
            SmtpSecurity::StartTls,
            SmtpSecurity::Tls,
        ] {
            let mailer = SmtpMailer::new(&settings(s)).unwrap();
            assert_eq!(mailer.target, format!("smtp.example.com:587 ({s})"));
        }
        let mut bad = settings(SmtpSecurity::StartTls);
        bad.from = "not an address".to_owned();
        assert!(SmtpMailer::new(&bad).is_err());
        bad = settings(SmtpSecurity::None);
        bad.host = " ".to_owned();
        assert!(SmtpMailer::new(&bad).is_err());
        assert!(!format!("{:?}", settings(SmtpSecurity::None)).contains("hunter22"));
    }

    #[test]
    fn messages_are_utf8_text_in_a_transfer_encoding_any_server_takes() {
        let from = parse_mailbox("noreply@example.com").unwrap();
        let long = format!(
            "{} https://app.example.com/reset?token={}",
            "您好".repeat(30),
            "ab".repeat(32)
        );
        let mail = Mail {
            to: "leo@example.com".to_owned(),
            subject: "重置密码 / Reset".to_owned(),
            text: format!("{long}\nHello"),
        };
        let raw = String::from_utf8(build_message(&from, &mail).unwrap().formatted()).unwrap();
        assert!(
            raw.contains("Content-Transfer-Encoding: quoted-printable")
                || raw.contains("Content-Transfer-Encoding: base64"),
            "{raw}"
        );
        assert!(raw.contains("text/plain; charset=utf-8"), "{raw}");
        assert!(raw.contains("To: leo@example.com"), "{raw}");
        assert!(raw.contains("Subject: =?utf-8?"), "{raw}");
        // SMTP's line limit holds
        assert!(raw.lines().all(|l| l.len() <= 78), "{raw}");
        let bad = Mail {
            to: "nobody".to_owned(),
            ..mail
        };
        assert!(build_message(&from, &bad).is_err());
    }

    proptest! {
        #[test]
        fn security_modes_parse_in_any_case(mode in 0usize..3, upper in proptest::collection::vec(any::<bool>(), 8)) {
            let (name, want) = [
                ("none", SmtpSecurity::None),
                ("starttls", SmtpSecurity::StartTls),
                ("tls", SmtpSecurity::Tls),
            ][mode];
            let cased: String = name
                .chars()
                .zip(upper.iter().cycle())
                .map(|(c, up)| if *up { c.to_ascii_uppercase() } else { c })
                .collect();
            prop_assert_eq!(cased.parse::<SmtpSecurity>(), Ok(want));
        }

        #[test]
        fn unknown_modes_name_the_choices(text in "[a-z]{0,10}") {
            let known = ["none", "false", "off", "plain", "starttls", "true", "on", "tls", "ssl", "smtps"];
            prop_assume!(!known.contains(&text.as_str()));
            let err = text.parse::<SmtpSecurity>().unwrap_err();
            prop_assert!(err.contains(SmtpSecurity::VALUES), "{}", err);
        }
    }
}
