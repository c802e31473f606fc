//! What the browser sees when a login cannot go on: a small HTML page saying why, with the
//! status that fits (404 unknown tenant, 400 bad request, 403 user refused, 502/504 KooGallery).
//! Messages never hold a code, a secret or a token.

use axum::{
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};

/// An error page.
#[derive(Debug, Clone)]
pub(crate) struct Page {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
}

impl Page {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into() }
    }
}

/// `text` safe inside HTML.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        let reason = self.status.canonical_reason().unwrap_or("Error");
        let body = format!(
            "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Single sign-on</title></head>\
             <body><h1>Single sign-on</h1><p>{}</p><p><small>{} {}</small></p></body></html>\n",
            escape(&self.message),
            self.status.as_u16(),
            reason
        );
        (self.status, [(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-store")], body)
            .into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_it_shows() {
        assert_eq!(escape("<b>\"x\" & 'y'</b>"), "&lt;b&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/b&gt;");
    }
}
