//! The page shell every page is drawn in, the action buttons (hidden when
//! read-only), formatting helpers, and the embedded stylesheet and script.
//! maud escapes every value it interpolates: payloads, errors and names
//! reach the page as text, never as markup.
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};

const STYLE: &str = include_str!("../assets/style.css");
const SCRIPT: &str = include_str!("../assets/app.js");
const ICON: &str = include_str!("../assets/icon.svg");

/// What a page needs to know about the request: where the dashboard lives,
/// the CSRF token for its forms, and whether actions are shown.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// Where the dashboard is mounted (`/weir`, or "" for the root); every link starts with it.
    pub base: String,
    /// The CSRF token the page's forms carry (double-submit cookie).
    pub csrf: String,
    /// Actions are hidden, and refused by the guard (`--read-only`).
    pub read_only: bool,
    /// The dashboard asks for a token (so it shows "log out").
    pub auth: bool,
}

impl Ctx {
    /// A dashboard path with the base path in front.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// Set on an error response so the guard draws it in the page shell.
#[derive(Debug, Clone)]
pub struct ErrorMessage(pub String);

const NAV: [(&str, &str); 5] = [
    ("/", "Overview"),
    ("/dead", "Dead jobs"),
    ("/workers", "Workers"),
    ("/limits", "Limits"),
    ("/autoscaler", "Autoscaler"),
];

/// A whole page: `nav` is the path of the menu entry to mark ("" for none).
pub fn page(ctx: &Ctx, title: &str, nav: &str, body: Markup) -> Html<String> {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light dark";
                title { (title) " · weir" }
                link rel="icon" href=(ctx.url("/assets/icon.svg")) type="image/svg+xml";
                link rel="stylesheet" href=(ctx.url("/assets/style.css"));
                script src=(ctx.url("/assets/app.js")) defer {}
            }
            body {
                header.top {
                    a.brand href=(ctx.url("/")) { "weir" }
                    nav {
                        @for (path, label) in NAV {
                            @if path == nav { a.current href=(ctx.url(path)) aria-current="page" { (label) } }
                            @else { a href=(ctx.url(path)) { (label) } }
                        }
                    }
                    @if ctx.read_only { span.badge.ro title="actions are hidden and refused" { "read-only" } }
                    @if ctx.auth {
                        form.inline method="post" action=(ctx.url("/logout")) {
                            input type="hidden" name="csrf" value=(ctx.csrf);
                            button.link type="submit" { "Log out" }
                        }
                    }
                }
                main { (body) }
            }
        }
    };
    Html(markup.into_string())
}

/// A POST button (with the CSRF token and `fields`), or nothing when read-only.
/// `confirm`: the question the script asks first.
pub fn action(
    ctx: &Ctx,
    path: &str,
    label: &str,
    class: &str,
    confirm: Option<&str>,
    fields: &[(&str, &str)],
) -> Markup {
    if ctx.read_only {
        return html! {};
    }
    html! {
        form.inline method="post" action=(ctx.url(path)) data-confirm=[confirm] {
            input type="hidden" name="csrf" value=(ctx.csrf);
            @for (k, v) in fields { input type="hidden" name=(k) value=(v); }
            button type="submit" class=(class) { (label) }
        }
    }
}

/// A one-line notice carried in a redirect's `?msg=` (shown as text).
pub fn notice(msg: Option<&str>) -> Markup {
    html! { @if let Some(m) = msg { p.notice role="status" { (m) } } }
}

/// The page of an error response before the guard puts it in the shell.
pub fn error_page(status: StatusCode, msg: &str) -> Html<String> {
    Html(html! { (DOCTYPE) html { head { title { (status) } } body { h1 { (status) } p { (msg) } } } }.into_string())
}

/// `2026-12-02 00:48:29 UTC`.
pub fn time(ms: i64) -> String {
    format!("{} UTC", weir_broker::duration::format_time(ms))
}

/// An approximate span such as `3m 20s`, `2h 5m`, `850ms`.
pub fn span(ms: i64) -> String {
    let ms = ms.max(0);
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let s = ms / 1000;
    let units = [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)];
    let mut parts = Vec::new();
    let mut rest = s;
    for (u, size) in units {
        if rest >= size || !parts.is_empty() {
            parts.push(format!("{}{u}", rest / size));
            rest %= size;
        }
        if parts.len() == 2 {
            break;
        }
    }
    parts.join(" ")
}

/// A count with thousands separators: `1,000,000`.
pub fn count(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A rate such as `12.5` or `3`, or `–` when unknown.
pub fn rate(r: Option<f64>) -> String {
    match r {
        None => "–".into(),
        Some(r) if r >= 100.0 || r.fract() == 0.0 => format!("{r:.0}"),
        Some(r) => format!("{r:.1}"),
    }
}

fn asset(body: &'static str, kind: &'static str) -> Response {
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    res
}

/// GET `/assets/style.css`: the embedded stylesheet.
pub async fn stylesheet() -> Response {
    asset(STYLE, "text/css; charset=utf-8")
}

/// GET `/assets/icon.svg`: the embedded icon.
pub async fn icon() -> Response {
    asset(ICON, "image/svg+xml")
}

/// GET `/assets/app.js`: the embedded script that refreshes `data-live` parts.
pub async fn script() -> Response {
    asset(SCRIPT, "text/javascript; charset=utf-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(span(850), "850ms");
        assert_eq!(span(200_000), "3m 20s");
        assert_eq!(span(7_500_000), "2h 5m");
        assert_eq!(span(-5), "0ms");
        assert_eq!(count(1_000_000), "1,000,000");
        assert_eq!(count(999), "999");
        assert_eq!(rate(Some(12.54)), "12.5");
        assert_eq!(rate(None), "–");
    }
}
