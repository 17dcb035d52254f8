//! Mail behind one enum of backends: SMTP (lettre's pooled transport), or files, lettre's
//! `.eml` writer, so that a laptop without an SMTP server still sees every message youmen
//! would have sent (`[mail] transport = "file"`, into `mail.file_dir`).

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::{DeliveryError, Mail};
use crate::config::MailSettings;

pub enum Mailer {
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        from: Mailbox,
    },
    Files {
        transport: AsyncFileTransport<Tokio1Executor>,
        from: Mailbox,
    },
}

impl Mailer {
    /// The configured backend; None when mail is off.
    pub fn from_settings(settings: &MailSettings) -> anyhow::Result<Option<Mailer>> {
        if !settings.enabled() {
            return Ok(None);
        }
        let from: Mailbox = settings
            .from
            .parse()
            .map_err(|e| anyhow::anyhow!("mail.from `{}` is not an address: {e}", settings.from))?;
        if settings.transport == "file" {
            std::fs::create_dir_all(&settings.file_dir).map_err(|e| {
                anyhow::anyhow!(
                    "creating mail.file_dir {}: {e}",
                    settings.file_dir.display()
                )
            })?;
            return Ok(Some(Mailer::Files {
                transport: AsyncFileTransport::new(&settings.file_dir),
                from,
            }));
        }
        let host = settings.smtp_host.trim();
        let builder = match settings.tls.as_str() {
            "tls" => AsyncSmtpTransport::<Tokio1Executor>::relay(host)?,
            "starttls" => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)?,
            _ => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
        };
        let mut builder = builder
            .port(settings.smtp_port)
            .timeout(Some(Duration::from_secs(settings.timeout_seconds.max(1))));
        if !settings.username.is_empty() {
            builder = builder.credentials(Credentials::new(
                settings.username.clone(),
                settings.password.clone(),
            ));
        }
        Ok(Some(Mailer::Smtp {
            transport: builder.build(),
            from,
        }))
    }

    /// Sends `mail` to `recipient`. A refusal that retrying cannot mend (an unparsable
    /// address, a permanent SMTP reply) is permanent.
    pub async fn send(&self, recipient: &str, mail: Mail) -> Result<(), DeliveryError> {
        let to: Mailbox = recipient.parse().map_err(|e| {
            DeliveryError::Permanent(format!("the recipient is not an address: {e}"))
        })?;
        let from = match self {
            Mailer::Smtp { from, .. } | Mailer::Files { from, .. } => from.clone(),
        };
        let message = Message::builder()
            .from(from)
            .to(to)
            .subject(mail.subject)
            .multipart(with_attachments(
                MultiPart::alternative_plain_html(mail.text, mail.html),
                mail.attachments,
            ))
            .map_err(|e| DeliveryError::Permanent(format!("building the message: {e}")))?;
        match self {
            Mailer::Smtp { transport, .. } => match transport.send(message).await {
                Ok(_) => Ok(()),
                Err(e) if e.is_permanent() => Err(DeliveryError::Permanent(e.to_string())),
                Err(e) => Err(DeliveryError::Transient(e.to_string())),
            },
            Mailer::Files { transport, .. } => transport
                .send(message)
                .await
                .map(|_| ())
                .map_err(|e| DeliveryError::Transient(format!("writing the .eml file: {e}"))),
        }
    }
}

fn with_attachments(body: MultiPart, attachments: Vec<(String, String, Vec<u8>)>) -> MultiPart {
    if attachments.is_empty() {
        return body;
    }
    let mut mixed = MultiPart::mixed().multipart(body);
    for (name, content_type, bytes) in attachments {
        let content_type = ContentType::parse(&content_type).unwrap_or(ContentType::TEXT_PLAIN);
        mixed = mixed.singlepart(Attachment::new(name).body(bytes, content_type));
    }
    mixed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(dir: &std::path::Path) -> MailSettings {
        MailSettings {
            transport: "file".into(),
            file_dir: dir.to_owned(),
            smtp_host: String::new(),
            smtp_port: 25,
            tls: "none".into(),
            username: String::new(),
            password: String::new(),
            from: "有门 youmen <noreply@localhost>".into(),
            timeout_seconds: 5,
            retry_base_seconds: 1,
            max_attempts: 3,
            poll_seconds: 1,
            lease_seconds: 60,
        }
    }

    #[tokio::test]
    async fn the_file_backend_writes_each_message_as_an_eml_file() {
        let dir = tempfile::tempdir().unwrap();
        let mailer = Mailer::from_settings(&settings(dir.path()))
            .unwrap()
            .expect("a file backend is mail that is on");
        let mail = Mail {
            subject: "您的留言已收到".into(),
            text: "案件编号 YM-20261128-0001".into(),
            html: "<p>案件编号 YM-20261128-0001</p>".into(),
            attachments: vec![("list.csv".into(), "text/csv".into(), b"a,b\n".to_vec())],
        };
        mailer.send("wang@example.com", mail).await.unwrap();
        let files: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].extension().unwrap(), "eml");
        let eml = std::fs::read_to_string(&files[0]).unwrap();
        assert!(eml.contains("To: wang@example.com"));
        assert!(eml.contains("list.csv"));
        let err = mailer.send(
            "not an address",
            Mail {
                subject: String::new(),
                text: String::new(),
                html: String::new(),
                attachments: Vec::new(),
            },
        );
        assert!(matches!(err.await, Err(DeliveryError::Permanent(_))));
    }
}
