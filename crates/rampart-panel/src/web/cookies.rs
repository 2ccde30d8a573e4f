//! Reading the `Cookie` header and writing `Set-Cookie` values.

use axum::http::{HeaderMap, HeaderValue, header};

use crate::settings::PanelSettings;

/// The value of cookie `name`, if sent exactly once.
pub fn get<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let mut found = None;
    for value in headers.get_all(header::COOKIE) {
        let Ok(value) = value.to_str() else { continue };
        for pair in value.split(';') {
            let Some((k, v)) = pair.trim().split_once('=') else {
                continue;
            };
            if k == name {
                if found.is_some() {
                    // Two cookies of one name (e.g. one injected for a
                    // parent domain): trust neither.
                    return None;
                }
                found = Some(v);
            }
        }
    }
    found
}

#[derive(Debug, Clone, Copy)]
pub enum SameSite {
    Lax,
    Strict,
}

/// A `Set-Cookie` value with `Path=/`, `HttpOnly`, and `Secure` under TLS.
/// `value` must be a token we made (hex); `max_age` of `Some(0)` deletes.
pub fn set(
    settings: &PanelSettings,
    name: &str,
    value: &str,
    same_site: SameSite,
    max_age: Option<i64>,
) -> HeaderValue {
    let same_site = match same_site {
        SameSite::Lax => "Lax",
        SameSite::Strict => "Strict",
    };
    let mut s = format!("{name}={value}; Path=/; HttpOnly; SameSite={same_site}");
    if settings.https {
        s.push_str("; Secure");
    }
    if let Some(age) = max_age {
        s.push_str(&format!("; Max-Age={age}"));
    }
    // Only hex tokens and fixed names reach here, so this cannot fail; a
    // header without the cookie is the safe fallback.
    HeaderValue::from_str(&s).unwrap_or_else(|_| HeaderValue::from_static("invalid=; Max-Age=0"))
}

/// A `Set-Cookie` value that removes cookie `name`.
pub fn clear(settings: &PanelSettings, name: &str) -> HeaderValue {
    set(settings, name, "", SameSite::Lax, Some(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(header::COOKIE, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn finds_cookie_among_others() {
        let h = headers(&["a=1; rampart_session=abc; b=2"]);
        assert_eq!(get(&h, "rampart_session"), Some("abc"));
        assert_eq!(get(&h, "missing"), None);
    }

    #[test]
    fn duplicate_cookie_is_refused() {
        let h = headers(&["rampart_session=abc", "rampart_session=def"]);
        assert_eq!(get(&h, "rampart_session"), None);
    }

    #[test]
    fn secure_only_under_tls() {
        let mut s = PanelSettings::default();
        let plain = set(&s, "n", "v", SameSite::Lax, None);
        assert_eq!(plain, "n=v; Path=/; HttpOnly; SameSite=Lax");
        s.https = true;
        let tls = set(&s, "n", "v", SameSite::Strict, Some(0));
        assert_eq!(
            tls,
            "n=v; Path=/; HttpOnly; SameSite=Strict; Secure; Max-Age=0"
        );
    }
}
