//! The dashboard's security model (docs/DASHBOARD.md, "Security"), applied
//! to every request by [`guard`]:
//! - with an auth token, every page but the login form and the assets asks
//!   for it: the login cookie (HttpOnly, SameSite=Strict) or
//!   `Authorization: Bearer TOKEN`;
//! - every change is a POST carrying the CSRF token of the `weir_csrf`
//!   cookie (double submit: a form of another site cannot read it, and a
//!   SameSite=Strict cookie is not sent with that site's requests anyway);
//!   GET never changes anything, other methods are refused;
//! - read-only refuses every POST but login and logout with 403;
//! - login tries are rate-limited per peer address ([`LoginLimiter`]);
//! - every response carries a Content-Security-Policy without inline script
//!   or style, and asks not to be framed, sniffed or cached.
use crate::State;
use crate::layout::{self, Ctx};
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use maud::html;

/// Login tries a peer (an IP address) may make at once; then one more every
/// [`LOGIN_REFILL`]. A try beyond them is refused with 429 before the token is
/// compared, so guessing the token goes no faster than that.
pub const LOGIN_BURST: u32 = 10;
/// How often a peer regains one login try.
pub const LOGIN_REFILL: std::time::Duration = std::time::Duration::from_secs(6);

/// The login tries of each peer ([`LOGIN_BURST`], [`LOGIN_REFILL`]).
pub struct LoginLimiter(
    governor::RateLimiter<
        Option<std::net::IpAddr>,
        governor::state::keyed::HashMapStateStore<Option<std::net::IpAddr>>,
        governor::clock::DefaultClock,
    >,
);

impl std::fmt::Debug for LoginLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginLimiter").field("peers", &self.0.len()).finish()
    }
}

impl Default for LoginLimiter {
    fn default() -> Self {
        let burst = std::num::NonZeroU32::new(LOGIN_BURST).unwrap_or(std::num::NonZeroU32::MIN);
        let quota = governor::Quota::with_period(LOGIN_REFILL).map(|q| q.allow_burst(burst));
        LoginLimiter(governor::RateLimiter::hashmap(quota.unwrap_or_else(|| governor::Quota::per_minute(burst))))
    }
}

impl LoginLimiter {
    /// Whether `peer` (None when the server does not say) may try to log in
    /// now; counts the try.
    pub fn allow(&self, peer: Option<std::net::IpAddr>) -> bool {
        if self.0.len() > 10_000 {
            self.0.retain_recent();
        }
        self.0.check_key(&peer).is_ok()
    }
}

const AUTH_COOKIE: &str = "weir_auth";
const CSRF_COOKIE: &str = "weir_csrf";
/// Largest form body taken (the dead-jobs selection is the biggest form).
const MAX_FORM_BYTES: usize = 1 << 20;

/// The Content-Security-Policy of every response: the dashboard's own
/// script, style and images only, no framing.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; \
                       form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// A form body, its fields in order (a field may repeat, as checkboxes do).
#[derive(Debug, Clone, Default)]
pub struct Form(pub Vec<(String, String)>);

impl Form {
    /// Parses an `application/x-www-form-urlencoded` body.
    pub fn parse(body: &[u8]) -> Form {
        Form(form_urlencoded::parse(body).into_owned().collect())
    }

    /// The first value of `name`, trimmed, if not empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim()).filter(|v| !v.is_empty())
    }

    /// Every value of `name`.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

impl<S: Send + Sync> FromRequest<S> for Form {
    type Rejection = Response;
    async fn from_request(req: Request, state: &S) -> Result<Form, Response> {
        let body = Bytes::from_request(req, state).await.map_err(IntoResponse::into_response)?;
        Ok(Form::parse(&body))
    }
}

/// The cookies of a request, by name (the first of each).
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Equal, in time that depends on the length only.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn auth_value(token: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(token.as_bytes())
}

fn new_csrf() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn valid_csrf(c: &str) -> bool {
    c.len() == 32 && c.bytes().all(|b| b.is_ascii_hexdigit())
}

fn cookie_path(base: &str) -> String {
    if base.is_empty() { "/".into() } else { base.to_string() }
}

fn authorized(token: Option<&str>, headers: &HeaderMap) -> bool {
    let Some(token) = token else { return true };
    let by_cookie = cookie(headers, AUTH_COOKIE).is_some_and(|c| same(c.as_bytes(), auth_value(token).as_bytes()));
    let by_header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| same(t.trim().as_bytes(), token.as_bytes()));
    by_cookie || by_header
}

/// The middleware every route runs behind (see the module's doc).
pub async fn guard(axum::extract::State(app): axum::extract::State<State>, req: Request, next: Next) -> Response {
    let base = app.config.base_path.clone();
    let path = req.uri().path().to_string();
    let login = format!("{base}/login");
    let public = path == login || path.starts_with(&format!("{base}/assets/"));
    let (csrf, fresh) = match cookie(req.headers(), CSRF_COOKIE).filter(|c| valid_csrf(c)) {
        Some(c) => (c.to_string(), false),
        None => (new_csrf(), true),
    };
    let ctx = Ctx {
        base: base.clone(),
        csrf: csrf.clone(),
        read_only: app.config.read_only,
        auth: app.config.auth_token.is_some(),
    };
    let method = req.method().clone();
    let mut res = if !public && !authorized(app.config.auth_token.as_deref(), req.headers()) {
        if method == Method::GET || method == Method::HEAD {
            Redirect::to(&login).into_response()
        } else {
            refuse(&ctx, StatusCode::UNAUTHORIZED, "log in first: this dashboard asks for its token")
        }
    } else if method == Method::POST {
        let read_only_ok = path == login || path == format!("{base}/logout");
        let peer = req.extensions().get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip());
        if path == login && !app.login_tries.allow(peer) {
            let mut r = refuse(
                &ctx,
                StatusCode::TOO_MANY_REQUESTS,
                "too many login tries from this address: wait a few seconds and try again",
            );
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(LOGIN_REFILL.as_secs()));
            r
        } else if app.config.read_only && !read_only_ok {
            refuse(&ctx, StatusCode::FORBIDDEN, "this dashboard is read-only (weir web --read-only)")
        } else {
            let (parts, body) = req.into_parts();
            match axum::body::to_bytes(body, MAX_FORM_BYTES).await {
                Err(_) => refuse(&ctx, StatusCode::PAYLOAD_TOO_LARGE, "the form is larger than 1 MiB"),
                Ok(bytes) => {
                    let form = Form::parse(&bytes);
                    if fresh || !form.get("csrf").is_some_and(|c| same(c.as_bytes(), csrf.as_bytes())) {
                        refuse(
                            &ctx,
                            StatusCode::FORBIDDEN,
                            "the form's CSRF token does not match this browser's: reload the page and try again",
                        )
                    } else {
                        let mut req = Request::from_parts(parts, Body::from(bytes));
                        req.extensions_mut().insert(ctx.clone());
                        next.run(req).await
                    }
                }
            }
        }
    } else if method == Method::GET || method == Method::HEAD {
        let mut req = req;
        req.extensions_mut().insert(ctx.clone());
        next.run(req).await
    } else {
        refuse(&ctx, StatusCode::METHOD_NOT_ALLOWED, "only GET (to read) and POST (to change) are served")
    };
    // An error a handler returned, shown in the page shell.
    if let Some(layout::ErrorMessage(msg)) = res.extensions().get::<layout::ErrorMessage>().cloned() {
        let status = res.status();
        res = (status, layout::page(&ctx, &status.to_string(), "", html! { p.error { (msg) } })).into_response();
    }
    let h = res.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    if fresh {
        let c = format!("{CSRF_COOKIE}={csrf}; Path={}; HttpOnly; SameSite=Strict", cookie_path(&base));
        if let Ok(v) = HeaderValue::from_str(&c) {
            h.append(header::SET_COOKIE, v);
        }
    }
    res
}

/// `router` behind the dashboard's token, when `config` has one: a request
/// without the login cookie or `Authorization: Bearer TOKEN` gets a plain
/// 401. For what is served beside the pages, such as the fleet metrics
/// (`weir web` mounts `weir::exporter::router` at `<base-path>/metrics` and
/// `<base-path>/api/queues` this way), which Prometheus scrapes with a bearer
/// token.
pub fn protect(router: axum::Router, config: &crate::WebConfig) -> axum::Router {
    let token = config.auth_token.clone();
    router.layer(axum::middleware::from_fn(move |req: Request, next: Next| {
        let ok = authorized(token.as_deref(), req.headers());
        async move {
            if ok {
                return next.run(req).await;
            }
            let challenge = [(header::WWW_AUTHENTICATE, "Bearer realm=\"weir\"")];
            (StatusCode::UNAUTHORIZED, challenge, "send the dashboard's token: Authorization: Bearer TOKEN\n")
                .into_response()
        }
    }))
}

fn refuse(ctx: &Ctx, status: StatusCode, msg: &str) -> Response {
    (status, layout::page(ctx, &status.to_string(), "", html! { p.error { (msg) } })).into_response()
}

fn login_form(ctx: &Ctx, message: Option<&str>) -> maud::Markup {
    html! {
        h1 { "Log in" }
        @if let Some(m) = message { p.error { (m) } }
        form.login method="post" action=(ctx.url("/login")) {
            input type="hidden" name="csrf" value=(ctx.csrf);
            label { "Token " input type="password" name="token" autocomplete="current-password" required; }
            button type="submit" { "Log in" }
        }
    }
}

/// GET `/login`: the token form.
pub async fn login_page(axum::Extension(ctx): axum::Extension<Ctx>) -> Response {
    layout::page(&ctx, "Log in", "", login_form(&ctx, None)).into_response()
}

/// POST `/login`: checks the token and sets the login cookie.
pub async fn login(
    axum::extract::State(app): axum::extract::State<State>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    form: Form,
) -> Response {
    let Some(token) = &app.config.auth_token else {
        return Redirect::to(&ctx.url("/")).into_response();
    };
    if !form.get("token").is_some_and(|t| same(t.as_bytes(), token.as_bytes())) {
        let body = login_form(&ctx, Some("wrong token"));
        return (StatusCode::UNAUTHORIZED, layout::page(&ctx, "Log in", "", body)).into_response();
    }
    let c = format!(
        "{AUTH_COOKIE}={}; Path={}; HttpOnly; SameSite=Strict",
        auth_value(token),
        cookie_path(&app.config.base_path)
    );
    let mut res = Redirect::to(&ctx.url("/")).into_response();
    if let Ok(v) = HeaderValue::from_str(&c) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

/// POST `/logout`: clears the login cookie.
pub async fn logout(axum::Extension(ctx): axum::Extension<Ctx>) -> Response {
    let c = format!("{AUTH_COOKIE}=; Path={}; HttpOnly; SameSite=Strict; Max-Age=0", cookie_path(&ctx.base));
    let mut res = Redirect::to(&ctx.url("/login")).into_response();
    if let Ok(v) = HeaderValue::from_str(&c) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_and_tokens() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("a=1; weir_csrf=abc; b=2"));
        assert_eq!(cookie(&h, "weir_csrf"), Some("abc"));
        assert_eq!(cookie(&h, "c"), None);
        assert!(same(b"abc", b"abc") && !same(b"abc", b"abd") && !same(b"abc", b"ab"));
        assert!(valid_csrf(&new_csrf()) && !valid_csrf("x"));
        let f = Form::parse(b"ids=a&ids=b&csrf=%20x%20&empty=");
        assert_eq!(f.all("ids").collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!((f.get("csrf"), f.get("empty")), (Some("x"), None));
    }
}
