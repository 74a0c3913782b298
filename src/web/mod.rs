//! The web pages: plain HTML, CSS and JavaScript compiled into the binary (no front-end build
//! step, nothing fetched from elsewhere). Pages hold no data; they sign in with a token and call
//! the API, which applies the same roles and regions as for any other client.

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

/// (file name, content type, contents).
const ASSETS: &[(&str, &str, &str)] = &[
    ("app.css", "text/css; charset=utf-8", include_str!("assets/app.css")),
    ("app.js", "text/javascript; charset=utf-8", include_str!("assets/app.js")),
    ("login.js", "text/javascript; charset=utf-8", include_str!("assets/login.js")),
    ("desk.js", "text/javascript; charset=utf-8", include_str!("assets/desk.js")),
    ("search.js", "text/javascript; charset=utf-8", include_str!("assets/search.js")),
    ("case.js", "text/javascript; charset=utf-8", include_str!("assets/case.js")),
    ("queue.js", "text/javascript; charset=utf-8", include_str!("assets/queue.js")),
    ("dashboard.js", "text/javascript; charset=utf-8", include_str!("assets/dashboard.js")),
    ("admin.js", "text/javascript; charset=utf-8", include_str!("assets/admin.js")),
];

/// (path, page).
const PAGES: &[(&str, &str)] = &[
    ("/login", include_str!("assets/login.html")),
    ("/desk", include_str!("assets/desk.html")),
    ("/search", include_str!("assets/search.html")),
    ("/cases/{id}", include_str!("assets/case.html")),
    ("/queue", include_str!("assets/queue.html")),
    ("/dashboard", include_str!("assets/dashboard.html")),
    ("/admin", include_str!("assets/admin.html")),
];

fn page(html: &'static str) -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-cache")], html).into_response()
}

async fn asset(axum::extract::Path(name): axum::extract::Path<String>) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, content_type, body)) => ([(header::CONTENT_TYPE, *content_type), (header::CACHE_CONTROL, "no-cache")], *body).into_response(),
        None => (StatusCode::NOT_FOUND, "no such file").into_response(),
    }
}

/// The page routes, for merging into the application router.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let mut r = Router::new().route("/", get(|| async { Redirect::to("/desk") })).route("/assets/{name}", get(asset));
    for (path, html) in PAGES {
        r = r.route(path, get(move || async move { page(html) }));
    }
    r
}

/// The pages and assets served, for tests.
pub fn page_paths() -> impl Iterator<Item = &'static str> {
    PAGES.iter().map(|(p, _)| *p)
}
