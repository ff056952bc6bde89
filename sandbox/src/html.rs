//! HTML escaping for server-rendered pages.

/// Escape text for use in HTML element content and in quoted attribute values.
pub fn escape(input: &str) -> String {
    let mut out = String::with_capacity(input.len() + 8);
    for c in input.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Serialise a string as a JavaScript string literal safe inside a `<script>` element.
pub fn js_string(input: &str) -> String {
    let json = serde_json::Value::String(input.to_string()).to_string();
    json.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape(r#"<script>alert("x&y")</script>'"#),
            "&lt;script&gt;alert(&quot;x&amp;y&quot;)&lt;/script&gt;&#39;"
        );
    }

    #[test]
    fn keeps_non_ascii() {
        assert_eq!(escape("Zoë Ndiaye-Côté"), "Zoë Ndiaye-Côté");
    }

    #[test]
    fn js_string_cannot_close_script() {
        let s = js_string("</script><b>");
        assert!(!s.contains("</"));
        assert!(s.starts_with('"') && s.ends_with('"'));
    }
}
