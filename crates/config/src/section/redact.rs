//! Redaction of passwords embedded in URLs (`postgres://user:password@host/db`), for `Debug`.

use std::fmt;

/// Shows a URL with the password of its user info replaced, so `Debug` output is safe to log.
pub(crate) struct RedactedUrl<'a>(pub(crate) &'a str);

impl fmt::Debug for RedactedUrl<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = self.0;
        let authority_start = url.find("://").map_or(0, |i| i + 3);
        let authority_end = url[authority_start..].find(['/', '?', '#']).map_or(url.len(), |i| authority_start + i);
        let authority = &url[authority_start..authority_end];
        // The last '@' ends the user info; a password may itself contain '@' when not escaped.
        let password = authority.rfind('@').and_then(|at| {
            let colon = authority[..at].find(':')?;
            Some((authority_start + colon + 1, authority_start + at))
        });
        match password {
            Some((start, end)) => write!(f, "\"{}[REDACTED]{}\"", &url[..start], &url[end..]),
            None => write!(f, "{url:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::RedactedUrl;

    fn shown(url: &str) -> String {
        format!("{:?}", RedactedUrl(url))
    }

    #[test]
    fn hides_the_password_only() {
        assert_eq!(
            shown("postgres://koofill:s3cr@t@db:5432/koofill?sslmode=require"),
            "\"postgres://koofill:[REDACTED]@db:5432/koofill?sslmode=require\""
        );
        assert_eq!(shown("nats://user:pw@127.0.0.1:4222"), "\"nats://user:[REDACTED]@127.0.0.1:4222\"");
    }

    #[test]
    fn leaves_urls_without_a_password_alone() {
        assert_eq!(shown("sqlite://koofill.db?mode=rwc"), "\"sqlite://koofill.db?mode=rwc\"");
        assert_eq!(shown("nats://token@host:4222"), "\"nats://token@host:4222\"");
        assert_eq!(shown("postgres://db/x?user=a:b@c"), "\"postgres://db/x?user=a:b@c\"");
    }
}
