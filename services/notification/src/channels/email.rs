//! Email over SMTP with `lettre`: STARTTLS (required) or implicit TLS through rustls, optional
//! authentication. lettre's own timeout covers the connection only, and a server that stalls
//! mid-conversation would hang a send: every send runs under the channel's deadline.

use std::time::Duration;

use koofill_config::{ChannelConfig, ExposeSecret, SmtpTls};
use lettre::{
    AsyncSmtpTransport, AsyncTransport, Tokio1Executor,
    message::{Mailbox, header::ContentType},
    transport::smtp::authentication::Credentials,
};

use super::{Message, Outcome};
use crate::templates::plain;

/// An SMTP relay and the addresses. `Debug` shows the host only.
pub struct Email {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    host: String,
    from: Mailbox,
    to: Vec<Mailbox>,
    timeout: Duration,
}

impl std::fmt::Debug for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Email").field("host", &self.host).field("to", &self.to.len()).finish_non_exhaustive()
    }
}

impl Email {
    /// The channel of `cfg`; the error names the key at fault.
    pub(crate) fn new(cfg: &ChannelConfig, timeout: Duration) -> Result<Self, (&'static str, String)> {
        let host = cfg.smtp_host.clone().ok_or(("smtp_host", "is required".to_owned()))?;
        let builder = match cfg.smtp_tls {
            SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&host),
            SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&host),
            SmtpTls::None => {
                if !(host == "localhost" || host == "::1" || host.starts_with("127.")) {
                    return Err(("smtp_tls", "\"none\" is only allowed for a loopback relay".to_owned()));
                }
                Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&host))
            }
        }
        .map_err(|e| ("smtp_host", format!("TLS set-up failed: {e}")))?;
        let port = cfg.smtp_port.unwrap_or(match cfg.smtp_tls {
            SmtpTls::Starttls => 587,
            SmtpTls::Tls => 465,
            SmtpTls::None => 25,
        });
        let mut builder = builder.port(port).timeout(Some(timeout));
        if let Some(user) = &cfg.username {
            let password = cfg.password.as_ref().map(|p| p.expose_secret().to_owned()).unwrap_or_default();
            builder = builder.credentials(Credentials::new(user.clone(), password));
        }
        let parse = |key: &'static str, text: &str| -> Result<Mailbox, (&'static str, String)> {
            text.parse().map_err(|_| (key, format!("{text:?} is not an email address")))
        };
        let from = parse("from", cfg.from.as_deref().unwrap_or_default())?;
        let to = cfg.to.iter().map(|t| parse("to", t)).collect::<Result<Vec<_>, _>>()?;
        if to.is_empty() {
            return Err(("to", "must list at least one address".to_owned()));
        }
        Ok(Self { transport: builder.build(), host, from, to, timeout })
    }

    pub(crate) async fn send(&self, msg: &Message) -> Outcome {
        let mut builder = lettre::Message::builder()
            // The same on every attempt: a repeated send after a crash is recognisable.
            .message_id(Some(format!("<{}@koofill>", msg.delivery_id)))
            .from(self.from.clone())
            .subject(msg.title.clone())
            .header(ContentType::TEXT_PLAIN);
        for to in &self.to {
            builder = builder.to(to.clone());
        }
        let mail = match builder.body(plain(&msg.body)) {
            Ok(m) => m,
            Err(e) => return Outcome::failed(format!("message not built: {e}")),
        };
        match tokio::time::timeout(self.timeout, self.transport.send(mail)).await {
            Err(_) => Outcome::retry(format!("the SMTP conversation did not finish within {:?}", self.timeout)),
            Ok(Ok(response)) => Outcome::Delivered {
                status: Some(u16::from(response.code())),
                answer: response.message().collect::<Vec<_>>().join(" "),
            },
            Ok(Err(e)) if e.is_permanent() => Outcome::failed(format!("SMTP: {e}")),
            Ok(Err(e)) => Outcome::retry(format!("SMTP: {e}")),
        }
    }
}
