//! Forms that carry a file (`multipart/form-data`). The guard reads the whole
//! body before any handler runs (up to the route's upload limit), finds the
//! form token in it, and passes the same bytes on; the handler reads the parts
//! from those bytes.

use axum::body::Bytes;
use axum::http::{HeaderMap, header};

/// One part of a multipart form: a field's name, the file's name if it is a
/// file, and its content.
pub(crate) struct Part {
    pub name: String,
    pub file_name: Option<String>,
    pub bytes: Bytes,
}

/// Whether the request's body is a multipart form.
pub(crate) fn is_multipart(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("multipart/form-data"))
}

/// The parts of a multipart body; `None` when it is not a well-formed one.
pub(crate) async fn parts(headers: &HeaderMap, body: Bytes) -> Option<Vec<Part>> {
    let content_type = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let boundary = multer::parse_boundary(content_type).ok()?;
    let stream = futures_util::stream::once(async move { Ok::<Bytes, std::convert::Infallible>(body) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut out = vec![];
    while let Some(field) = multipart.next_field().await.ok()? {
        let name = field.name().unwrap_or("").to_string();
        let file_name = field.file_name().map(str::to_string);
        let bytes = field.bytes().await.ok()?;
        out.push(Part { name, file_name, bytes });
    }
    Some(out)
}

/// The text of the field called `name`, if the form has it.
pub(crate) fn text<'a>(parts: &'a [Part], name: &str) -> Option<&'a str> {
    parts.iter().find(|p| p.name == name).and_then(|p| std::str::from_utf8(&p.bytes).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(boundary: &str) -> (HeaderMap, Bytes) {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}").parse().unwrap());
        let body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\nabc123\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"books.csv\"\r\n\
             Content-Type: text/csv\r\n\r\ncustomer,number\r\n1,2026-1\r\n\r\n--{boundary}--\r\n"
        );
        (headers, Bytes::from(body))
    }

    #[tokio::test]
    async fn reads_fields_and_files() {
        let (headers, body) = form("XyZ");
        assert!(is_multipart(&headers));
        let parts = parts(&headers, body).await.expect("well-formed");
        assert_eq!(text(&parts, "csrf"), Some("abc123"));
        let file = parts.iter().find(|p| p.name == "file").unwrap();
        assert_eq!(file.file_name.as_deref(), Some("books.csv"));
        assert_eq!(&file.bytes[..], b"customer,number\r\n1,2026-1\r\n");
    }

    #[tokio::test]
    async fn a_broken_body_is_none() {
        let (headers, _) = form("XyZ");
        assert!(parts(&headers, Bytes::from_static(b"--XyZ\r\nno end")).await.is_none());
        let mut plain = HeaderMap::new();
        plain.insert(header::CONTENT_TYPE, "application/x-www-form-urlencoded".parse().unwrap());
        assert!(!is_multipart(&plain));
        assert!(parts(&plain, Bytes::from_static(b"a=b")).await.is_none());
    }
}
