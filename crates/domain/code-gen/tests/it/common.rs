//! Helpers: render a spec, a small tag/attribute scanner for the generated HTML (all text is
//! escaped, so every `<` in the output starts a real tag), and the embedded app data.

use ingenio_app_specs::AppSpec;
use ingenio_code_gen::escape::html_attr;
use ingenio_code_gen::{renderer, FileTree};
use serde_json::Value;

pub fn static_web() -> &'static dyn ingenio_code_gen::Renderer {
    renderer("static-web").expect("static-web is registered")
}

pub fn render(spec: &AppSpec) -> FileTree {
    static_web()
        .render(spec)
        .expect("static-web renders every spec")
}

pub fn file(tree: &FileTree, path: &str) -> String {
    String::from_utf8(tree.get(path).expect(path).to_vec()).unwrap()
}

/// A start tag: its name and attributes (values unescaped only of nothing: as written).
#[derive(Debug)]
pub struct Tag {
    pub name: String,
    pub attrs: Vec<(String, Option<String>)>,
}

impl Tag {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_deref().unwrap_or(""))
    }
}

/// Every start tag of `html`, in order. Panics on an attribute value that is not double-quoted
/// (the templates quote every value).
pub fn tags(html: &str) -> Vec<Tag> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        rest = &rest[start + 1..];
        if rest.starts_with('/') || rest.starts_with('!') {
            continue;
        }
        let name_end = rest.find(|c: char| c.is_whitespace() || c == '>').unwrap();
        let name = rest[..name_end].to_ascii_lowercase();
        rest = &rest[name_end..];
        let mut attrs = Vec::new();
        loop {
            rest = rest.trim_start();
            if let Some(r) = rest.strip_prefix('>') {
                rest = r;
                break;
            }
            let n_end = rest
                .find(|c: char| c.is_whitespace() || c == '=' || c == '>')
                .unwrap();
            let attr = rest[..n_end].to_ascii_lowercase();
            rest = &rest[n_end..];
            if let Some(r) = rest.strip_prefix('=') {
                let r = r
                    .strip_prefix('"')
                    .unwrap_or_else(|| panic!("unquoted {attr} in <{name}>"));
                let v_end = r.find('"').unwrap();
                attrs.push((attr, Some(r[..v_end].to_owned())));
                rest = &r[v_end + 1..];
            } else {
                attrs.push((attr, None));
            }
        }
        out.push(Tag { name, attrs });
    }
    out
}

/// Tags having attribute `attr` equal to the escaped form of `value`.
pub fn with_attr<'t>(tags: &'t [Tag], attr: &str, value: &str) -> Vec<&'t Tag> {
    let escaped = html_attr(value);
    tags.iter()
        .filter(|t| t.attr(attr) == Some(escaped.as_str()))
        .collect()
}

/// The JSON in `<script type="application/json" id="app-data">`.
pub fn app_data(html: &str) -> Value {
    let open = r#"<script type="application/json" id="app-data">"#;
    let start = html.find(open).unwrap() + open.len();
    let end = start + html[start..].find("</script>").unwrap();
    serde_json::from_str(&html[start..end]).unwrap()
}

/// The rules the preview's Content-Security-Policy imposes, and the structure every page needs.
pub fn assert_csp_clean(html: &str) {
    let tags = tags(html);
    for t in &tags {
        for (name, value) in &t.attrs {
            assert!(
                !name.starts_with("on"),
                "event handler attribute {name} on <{}>",
                t.name
            );
            assert_ne!(name, "style", "inline style on <{}>", t.name);
            if name == "href" {
                let v = value.as_deref().unwrap_or("");
                let own_file = matches!(v, "styles.css" | "favicon.svg");
                assert!(v.starts_with('#') || own_file, "href {v:?}");
            }
            if name == "src" {
                assert_eq!(value.as_deref(), Some("app.js"), "src on <{}>", t.name);
            }
        }
        assert_ne!(t.name, "style");
        assert_ne!(t.name, "img");
        assert_ne!(t.name, "iframe");
    }
    let scripts: Vec<&Tag> = tags.iter().filter(|t| t.name == "script").collect();
    assert_eq!(scripts.len(), 2, "app.js and the JSON data only");
    assert!(scripts
        .iter()
        .all(|s| s.attr("src") == Some("app.js") || s.attr("type") == Some("application/json")));
    assert_eq!(tags.iter().filter(|t| t.name == "h1").count(), 1);
    assert_eq!(tags.iter().filter(|t| t.name == "main").count(), 1);
    assert_eq!(tags.iter().filter(|t| t.name == "title").count(), 1);
    assert!(html.contains(r#"<meta charset="utf-8">"#));
    assert!(html.contains(r#"name="viewport""#));
}
