//! Where notifications go besides the platform inbox, read from the environment once at start and
//! checked then (a wrong URL is refused before anything is queued for it).
//!
//! | variable | meaning |
//! |---|---|
//! | `SHIAN_WEBHOOK_URL` | `http://…`: every failure notification as a JSON POST |
//! | `SHIAN_SMS_WEBHOOK_URL` | `http://…`: an SMS gateway; JSON POST `{"phones": [...], "text": "..."}` to the market's assigned officials' phones (its roster, `market_staff`) |
//! | `SHIAN_SMTP_URL` | `smtp://[user:password@]host[:port]`: mail, plain SMTP (this build has no TLS) |
//! | `SHIAN_SMTP_FROM` | the sender address (required with `SHIAN_SMTP_URL`) |
//! | `SHIAN_SMTP_TO` | comma-separated recipients (required with `SHIAN_SMTP_URL`), e.g. a duty mailbox |
//! | `SHIAN_NOTIFY_TIMEOUT_SECS` | timeout of one delivery attempt (default 10) |
//! | `SHIAN_EVIDENCE_MAX_BYTES` | the largest evidence file kept with a ledger action (default 10 MiB) |
//!
//! Without any of the channel variables only the inbox is used. Only `http://` is accepted for the
//! webhooks: the build leaves out TLS (a C library), and the gateways are on the government
//! intranet; put a TLS-terminating proxy in front of an `https` receiver. Secrets in the URLs are
//! never printed: `Debug` shows only the scheme and host.

use std::time::Duration;

use super::{Result, SupervisionError};

/// The default size limit of an evidence file.
pub const DEFAULT_EVIDENCE_MAX_BYTES: usize = 10 * 1024 * 1024;

/// Where mail goes: the parts of `smtp://[user:password@]host[:port]`.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpTarget {
    pub host: String,
    pub port: u16,
    /// User and password, percent-decoded.
    pub credentials: Option<(String, String)>,
}

/// `%XX` escapes decoded (a password may hold `@` or `:` written as `%40`, `%3A`).
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

impl SmtpTarget {
    /// Reads `smtp://[user:password@]host[:port]` (port 25 by default).
    pub fn parse(url: &str) -> Result<SmtpTarget> {
        let bad = || {
            SupervisionError::Config(format!(
                "SHIAN_SMTP_URL {} is not smtp://[user:password@]host[:port]",
                redact(url)
            ))
        };
        let rest = url.strip_prefix("smtp://").ok_or_else(bad)?;
        let authority = rest.trim_end_matches('/');
        if authority.contains(['/', '?']) {
            return Err(bad());
        }
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) => (h, p.parse().map_err(|_| bad())?),
            None => (hostport, 25),
        };
        if host.is_empty() {
            return Err(bad());
        }
        let credentials = match userinfo.map(|u| u.split_once(':')) {
            None => None,
            Some(Some((u, p))) => Some((percent_decode(u).ok_or_else(bad)?, percent_decode(p).ok_or_else(bad)?)),
            Some(None) => return Err(bad()),
        };
        Ok(SmtpTarget { host: host.to_string(), port, credentials })
    }
}

/// Mail settings.
#[derive(Clone)]
pub struct SmtpConfig {
    /// `smtp://[user:password@]host[:port]`.
    pub url: String,
    pub from: String,
    pub to: Vec<String>,
}

/// The external channels and limits.
#[derive(Clone)]
pub struct NotifyConfig {
    pub webhook_url: Option<String>,
    pub sms_webhook_url: Option<String>,
    pub smtp: Option<SmtpConfig>,
    pub timeout: Duration,
    pub evidence_max_bytes: usize,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            webhook_url: None,
            sms_webhook_url: None,
            smtp: None,
            timeout: Duration::from_secs(10),
            evidence_max_bytes: DEFAULT_EVIDENCE_MAX_BYTES,
        }
    }
}

/// `scheme://host` of a URL, hiding credentials, path and query.
fn redact(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("?", url));
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or("");
    format!("{scheme}://{host}/…")
}

impl std::fmt::Debug for NotifyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotifyConfig")
            .field("webhook_url", &self.webhook_url.as_deref().map(redact))
            .field("sms_webhook_url", &self.sms_webhook_url.as_deref().map(redact))
            .field("smtp", &self.smtp.as_ref().map(|s| (redact(&s.url), &s.from, &s.to)))
            .field("timeout", &self.timeout)
            .field("evidence_max_bytes", &self.evidence_max_bytes)
            .finish()
    }
}

fn http_url(name: &str, value: Option<String>) -> Result<Option<String>> {
    let Some(v) = value.map(|v| v.trim().to_string()).filter(|v| !v.is_empty()) else { return Ok(None) };
    if !v.starts_with("http://") || v.len() <= "http://".len() {
        return Err(SupervisionError::Config(format!(
            "{name} must be an http:// URL (https needs a TLS-terminating proxy in front of the receiver)"
        )));
    }
    Ok(Some(v))
}

fn number<T: std::str::FromStr>(name: &str, value: Option<String>, default: T) -> Result<T> {
    match value.map(|v| v.trim().to_string()).filter(|v| !v.is_empty()) {
        None => Ok(default),
        Some(v) => v.parse().map_err(|_| SupervisionError::Config(format!("{name} must be a number, not {v:?}"))),
    }
}

fn smtp(url: Option<String>, from: Option<String>, to: Option<String>) -> Result<Option<SmtpConfig>> {
    let Some(url) = url.map(|v| v.trim().to_string()).filter(|v| !v.is_empty()) else { return Ok(None) };
    if !url.starts_with("smtp://") {
        return Err(SupervisionError::Config("SHIAN_SMTP_URL must be smtp://[user:password@]host[:port]".into()));
    }
    SmtpTarget::parse(&url)?;
    let from = from.filter(|f| f.parse::<lettre::Address>().is_ok());
    let from = from.ok_or_else(|| SupervisionError::Config("SHIAN_SMTP_FROM must be a mail address".into()))?;
    let to: Vec<String> =
        to.unwrap_or_default().split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
    if to.is_empty() || to.iter().any(|a| a.parse::<lettre::Address>().is_err()) {
        return Err(SupervisionError::Config("SHIAN_SMTP_TO must be mail addresses separated by commas".into()));
    }
    Ok(Some(SmtpConfig { url, from, to }))
}

impl NotifyConfig {
    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<NotifyConfig> {
        NotifyConfig::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads the settings through `get` (the environment, or a map in tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<NotifyConfig> {
        let timeout: u64 = number("SHIAN_NOTIFY_TIMEOUT_SECS", get("SHIAN_NOTIFY_TIMEOUT_SECS"), 10)?;
        let evidence_max_bytes =
            number("SHIAN_EVIDENCE_MAX_BYTES", get("SHIAN_EVIDENCE_MAX_BYTES"), DEFAULT_EVIDENCE_MAX_BYTES)?;
        Ok(NotifyConfig {
            webhook_url: http_url("SHIAN_WEBHOOK_URL", get("SHIAN_WEBHOOK_URL"))?,
            sms_webhook_url: http_url("SHIAN_SMS_WEBHOOK_URL", get("SHIAN_SMS_WEBHOOK_URL"))?,
            smtp: smtp(get("SHIAN_SMTP_URL"), get("SHIAN_SMTP_FROM"), get("SHIAN_SMTP_TO"))?,
            timeout: Duration::from_secs(timeout.max(1)),
            evidence_max_bytes,
        })
    }

    /// The external channels configured (`webhook`, `sms`, `email`).
    pub fn channels(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.webhook_url.is_some() {
            out.push("webhook");
        }
        if self.sms_webhook_url.is_some() {
            out.push("sms");
        }
        if self.smtp.is_some() {
            out.push("email");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn load(vars: &[(&str, &str)]) -> Result<NotifyConfig> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        NotifyConfig::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn nothing_configured_means_the_inbox_only() {
        assert!(load(&[]).unwrap().channels().is_empty());
    }

    #[test]
    fn channels_are_checked_when_loaded() {
        assert!(load(&[("SHIAN_WEBHOOK_URL", "https://x.example/hook")]).is_err());
        assert!(load(&[("SHIAN_WEBHOOK_URL", "ftp://x")]).is_err());
        assert!(load(&[("SHIAN_SMTP_URL", "smtp://mail.local:25")]).is_err(), "from and to are required");
        assert!(load(&[("SHIAN_NOTIFY_TIMEOUT_SECS", "soon")]).is_err());
        let c = load(&[
            ("SHIAN_WEBHOOK_URL", "http://10.0.0.1:8080/hook?token=secret"),
            ("SHIAN_SMS_WEBHOOK_URL", "http://sms.local/send"),
            ("SHIAN_SMTP_URL", "smtp://user:pw@mail.local:2525"),
            ("SHIAN_SMTP_FROM", "shian@example.gov.cn"),
            ("SHIAN_SMTP_TO", "duty@example.gov.cn, chief@example.gov.cn"),
        ])
        .unwrap();
        assert_eq!(c.channels(), ["webhook", "sms", "email"]);
        assert_eq!(c.smtp.as_ref().unwrap().to.len(), 2);
        let target = SmtpTarget::parse(&c.smtp.unwrap().url).unwrap();
        assert_eq!((target.host.as_str(), target.port), ("mail.local", 2525));
        assert_eq!(target.credentials, Some(("user".into(), "pw".into())));
        let escaped = SmtpTarget::parse("smtp://a%40b.cn:p%3Aw@10.0.0.2").unwrap();
        assert_eq!((escaped.credentials, escaped.port), (Some(("a@b.cn".into(), "p:w".into())), 25));
        assert!(SmtpTarget::parse("smtp://host:port").is_err());
    }

    #[test]
    fn secrets_are_not_printed() {
        let c = load(&[
            ("SHIAN_WEBHOOK_URL", "http://10.0.0.1/hook?token=secret"),
            ("SHIAN_SMTP_URL", "smtp://user:pw@mail.local"),
            ("SHIAN_SMTP_FROM", "a@b.cn"),
            ("SHIAN_SMTP_TO", "c@d.cn"),
        ])
        .unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("secret") && !shown.contains("pw"), "{shown}");
    }
}
