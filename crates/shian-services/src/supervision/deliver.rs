//! The delivery worker: sends the outbox — webhook and SMS gateway as JSON POSTs, mail over plain
//! SMTP — and keeps every attempt's outcome in the database, so a restart goes on where it was.
//!
//! A message is claimed before it is sent (its next attempt moved a lease ahead), so two workers
//! never send it at the same time. A failed attempt (no answer, a non-2xx status, an SMTP error)
//! is retried after 2 s, 4 s, 8 s, … at most an hour apart; after [`MAX_ATTEMPTS`] the message is
//! given up and stays in the outbox with its last error. Delivery is at least once: a crash after
//! the receiver answered and before the answer was recorded sends the message again, with the same
//! `Idempotency-Key` header (`shian-outbox-ID`). Connections go straight to the receiver (no proxy):
//! the gateways are on the intranet.

use lettre::Transport;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use shian_store::Store;
use shian_store::supervision::{Attempt, OutboxMessage};

use super::config::{NotifyConfig, SmtpTarget};
use super::{Result, SupervisionError};

/// Attempts after which a message is given up.
pub const MAX_ATTEMPTS: i64 = 48;

/// How long a claimed message is left to its worker before another may try it.
const LEASE_MS: i64 = 5 * 60 * 1000;

/// The waits between attempts: `base_ms`, doubled after each failure, at most `max_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base_ms: i64,
    pub max_ms: i64,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { base_ms: 2_000, max_ms: 3_600_000 }
    }
}

impl Backoff {
    /// The wait after the `attempts`-th failed attempt.
    pub fn after(&self, attempts: i64) -> i64 {
        let doublings = attempts.saturating_sub(1).clamp(0, 40) as u32;
        self.base_ms.saturating_mul(1_i64 << doublings.min(40)).min(self.max_ms)
    }
}

/// What a round of delivery did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    pub delivered: usize,
    /// Failed attempts that will be tried again.
    pub retrying: usize,
    pub gave_up: usize,
}

/// Sends messages over the configured channels.
pub struct Deliverer {
    cfg: NotifyConfig,
    http: reqwest::blocking::Client,
    backoff: Backoff,
}

impl Deliverer {
    /// A deliverer for the channels of `cfg`. Not to be made inside an async runtime (the HTTP
    /// client runs its own).
    pub fn new(cfg: NotifyConfig, backoff: Backoff) -> Result<Deliverer> {
        let http = reqwest::blocking::Client::builder()
            .timeout(cfg.timeout)
            .no_proxy()
            .build()
            .map_err(|e| SupervisionError::Config(format!("HTTP client: {e}")))?;
        Ok(Deliverer { cfg, http, backoff })
    }

    fn post(&self, url: &str, id: i64, body: &str) -> Result<(), String> {
        let response = self
            .http
            .post(url)
            .header("content-type", "application/json; charset=utf-8")
            .header("idempotency-key", format!("shian-outbox-{id}"))
            .body(body.to_string())
            .send()
            .map_err(|e| format!("{e}"))?;
        let status = response.status();
        if status.is_success() { Ok(()) } else { Err(format!("HTTP {status}")) }
    }

    fn mail(&self, m: &OutboxMessage) -> Result<(), String> {
        let smtp = self.cfg.smtp.as_ref().ok_or("email is not configured")?;
        let from = smtp.from.parse().map_err(|e| format!("from: {e}"))?;
        let mut builder = lettre::Message::builder().from(from).subject(m.subject.clone().unwrap_or_default());
        for to in m.recipients.as_deref().unwrap_or_default().split(',').filter(|s| !s.trim().is_empty()) {
            builder = builder.to(to.trim().parse().map_err(|e| format!("to {to}: {e}"))?);
        }
        let email = builder.header(ContentType::TEXT_PLAIN).body(m.payload.clone()).map_err(|e| format!("{e}"))?;
        let target = SmtpTarget::parse(&smtp.url).map_err(|e| e.to_string())?;
        let mut transport = lettre::SmtpTransport::builder_dangerous(target.host).port(target.port);
        if let Some((user, password)) = target.credentials {
            transport = transport.credentials(Credentials::new(user, password));
        }
        let transport = transport.timeout(Some(self.cfg.timeout)).build();
        transport.send(&email).map(|_| ()).map_err(|e| format!("SMTP: {e}"))
    }

    /// One attempt at one message.
    pub fn send(&self, m: &OutboxMessage) -> Result<(), String> {
        match m.channel.as_str() {
            "webhook" => {
                self.post(self.cfg.webhook_url.as_deref().ok_or("the webhook is not configured")?, m.id, &m.payload)
            }
            "sms" => {
                let url = self.cfg.sms_webhook_url.as_deref().ok_or("the SMS gateway is not configured")?;
                self.post(url, m.id, &m.payload)
            }
            "email" => self.mail(m),
            other => Err(format!("unknown channel {other}")),
        }
    }
}

/// Sends up to `limit` messages due at `now_ms`: claims them in one transaction, sends each, and
/// records the outcomes in one transaction.
pub fn deliver_due(store: &mut dyn Store, d: &Deliverer, now_ms: i64, limit: usize) -> Result<DeliveryReport> {
    let due = store.due_messages(now_ms, limit)?;
    let mut report = DeliveryReport::default();
    if due.is_empty() {
        return Ok(report);
    }
    let keys: Vec<(i64, i64)> = due.iter().map(|m| (m.id, m.next_attempt_ms)).collect();
    let taken = store.claim_messages(&keys, now_ms + LEASE_MS)?;
    let mut attempts = Vec::with_capacity(taken.len());
    for m in due.iter().filter(|m| taken.contains(&m.id)) {
        let attempt = attempt(d, m, now_ms);
        match (&attempt.error, attempt.next_attempt_ms) {
            (None, _) => report.delivered += 1,
            (Some(_), Some(_)) => report.retrying += 1,
            (Some(_), None) => report.gave_up += 1,
        }
        attempts.push(attempt);
    }
    store.record_attempts(&attempts)?;
    Ok(report)
}

/// Sends one message; the outcome with the next attempt's time after a failure.
fn attempt(d: &Deliverer, m: &OutboxMessage, now_ms: i64) -> Attempt {
    match d.send(m) {
        Ok(()) => Attempt { message: m.id, at_ms: now_ms, error: None, next_attempt_ms: None },
        Err(error) => {
            let attempts = m.attempts + 1;
            let next = (attempts < MAX_ATTEMPTS).then(|| now_ms + d.backoff.after(attempts));
            tracing::warn!(message = m.id, channel = %m.channel, attempts, %error, "notification not delivered");
            Attempt { message: m.id, at_ms: now_ms, error: Some(error), next_attempt_ms: next }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_an_hour() {
        let b = Backoff::default();
        assert_eq!((b.after(1), b.after(2), b.after(3)), (2_000, 4_000, 8_000));
        assert_eq!(b.after(30), 3_600_000);
        assert_eq!(b.after(MAX_ATTEMPTS), 3_600_000);
    }
}
