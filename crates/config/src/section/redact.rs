//! Redaction of credentials embedded in URLs (`postgres://user:password@host/db`,
//! `nats://token@host`, `…?password=…`), for `Debug` output, logs and banners.

use std::fmt;

/// Shows a URL (or a comma-separated list of URLs) with its credentials replaced.
pub(crate) struct RedactedUrl<'a>(pub(crate) &'a str);

impl fmt::Debug for RedactedUrl<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", redact_url(self.0))
    }
}

const MASK: &str = "[REDACTED]";

/// The URL with credentials hidden: a password in the user info (`user:[REDACTED]@`), a user info
/// that is a bare token (`[REDACTED]@`), and `password=`/`token=` query parameters; every URL of a
/// comma-separated list. Safe to print.
pub fn redact_url(url: &str) -> String {
    url.split(',').map(redact_one).collect::<Vec<_>>().join(",")
}

fn redact_one(url: &str) -> String {
    let authority_start = url.find("://").map_or(0, |i| i + 3);
    let authority_end = url[authority_start..].find(['/', '?', '#']).map_or(url.len(), |i| authority_start + i);
    let authority = &url[authority_start..authority_end];
    // The last '@' ends the user info; a password may itself contain '@' when not escaped.
    let mut out = match authority.rfind('@') {
        Some(at) => {
            let user_info = &authority[..at];
            let shown = match user_info.find(':') {
                Some(colon) => format!("{}:{MASK}", &user_info[..colon]),
                None => MASK.to_owned(),
            };
            format!("{}{shown}{}", &url[..authority_start], &url[authority_start + at..authority_end])
        }
        None => url[..authority_end].to_owned(),
    };
    let rest = &url[authority_end..];
    match rest.split_once('?') {
        Some((path, query)) => {
            out.push_str(path);
            out.push('?');
            let params: Vec<String> = query
                .split('&')
                .map(|p| match p.split_once('=') {
                    Some((k, _))
                        if matches!(k.to_ascii_lowercase().as_str(), "password" | "pass" | "token" | "secret") =>
                    {
                        format!("{k}={MASK}")
                    }
                    _ => p.to_owned(),
                })
                .collect();
            out.push_str(&params.join("&"));
        }
        None => out.push_str(rest),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{RedactedUrl, redact_url};

    fn shown(url: &str) -> String {
        format!("{:?}", RedactedUrl(url))
    }

    #[test]
    fn hides_passwords_and_tokens() {
        assert_eq!(
            shown("postgres://koofill:s3cr@t@db:5432/koofill?sslmode=require"),
            "\"postgres://koofill:[REDACTED]@db:5432/koofill?sslmode=require\""
        );
        assert_eq!(shown("nats://user:pw@127.0.0.1:4222"), "\"nats://user:[REDACTED]@127.0.0.1:4222\"");
        assert_eq!(redact_url("nats://token@host:4222"), "nats://[REDACTED]@host:4222");
        assert_eq!(
            redact_url("nats://a:1@h1:4222,nats://b:2@h2:4222"),
            "nats://a:[REDACTED]@h1:4222,nats://b:[REDACTED]@h2:4222"
        );
        assert_eq!(
            redact_url("postgres://db/x?user=a&password=p&sslmode=require"),
            "postgres://db/x?user=a&password=[REDACTED]&sslmode=require"
        );
    }

    #[test]
    fn leaves_urls_without_credentials_alone() {
        assert_eq!(shown("sqlite://koofill.db?mode=rwc"), "\"sqlite://koofill.db?mode=rwc\"");
        assert_eq!(redact_url("nats://127.0.0.1:4222"), "nats://127.0.0.1:4222");
        assert_eq!(redact_url("https://mkt.myhuaweicloud.com"), "https://mkt.myhuaweicloud.com");
    }
}
