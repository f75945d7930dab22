//! The web pages: the demo shop with the widget (`/`), the embeddable widget
//! (`/widget.js`), the agent console (`/console`) and the admin console (`/admin`).
//!
//! The sources live in `web/` and are compiled into the binary: the pages need no build
//! step, no files beside the binary and no CDN. Every response carries a validator (a
//! content hash as `ETag`), so a browser revalidates cheaply; the consoles carry a strict
//! `Content-Security-Policy` (scripts and styles from this origin only, no inline script,
//! no framing), so text an attacker gets into a page can never run there.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

/// The consoles and the demo shop: only this origin's scripts, styles, images and sockets.
/// `connect-src 'self'` covers the same origin's `ws:`/`wss:` (CSP level 3).
const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// How a response may be cached.
#[derive(Clone, Copy)]
enum Caching {
    /// Pages: always revalidated, so a new binary shows at once.
    Revalidate,
    /// The widget and the page assets: reused for a few minutes, then revalidated.
    Short,
}

impl Caching {
    fn header(self) -> &'static str {
        match self {
            Caching::Revalidate => "no-cache",
            Caching::Short => "public, max-age=300",
        }
    }
}

/// One compiled-in file.
struct Asset {
    body: &'static str,
    content_type: &'static str,
    caching: Caching,
    /// Whether the response carries [`PAGE_CSP`] (HTML pages).
    csp: bool,
    etag: OnceLock<String>,
}

impl Asset {
    const fn new(
        body: &'static str,
        content_type: &'static str,
        caching: Caching,
        csp: bool,
    ) -> Self {
        Asset {
            body,
            content_type,
            caching,
            csp,
            etag: OnceLock::new(),
        }
    }

    fn etag(&self) -> &str {
        self.etag.get_or_init(|| {
            let digest = Sha256::digest(self.body.as_bytes());
            format!("\"{}\"", hex::encode(&digest[..12]))
        })
    }

    fn respond(&self, req: &HttpRequest) -> HttpResponse {
        let etag = self.etag();
        let fresh = req
            .headers()
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag));
        let mut response = if fresh {
            HttpResponse::NotModified()
        } else {
            HttpResponse::Ok()
        };
        response
            .insert_header((header::CACHE_CONTROL, self.caching.header()))
            .insert_header((header::ETAG, etag.to_owned()))
            .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
        if self.csp {
            response
                .insert_header((header::CONTENT_SECURITY_POLICY, PAGE_CSP))
                .insert_header((header::REFERRER_POLICY, "no-referrer"))
                .insert_header((header::X_FRAME_OPTIONS, "DENY"));
        }
        if fresh {
            return response.finish();
        }
        response.content_type(self.content_type).body(self.body)
    }
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

static SHOP: Asset = Asset::new(
    include_str!("../../../web/index.html"),
    HTML,
    Caching::Revalidate,
    true,
);
static CONSOLE: Asset = Asset::new(
    include_str!("../../../web/console.html"),
    HTML,
    Caching::Revalidate,
    true,
);
static ADMIN: Asset = Asset::new(
    include_str!("../../../web/admin.html"),
    HTML,
    Caching::Revalidate,
    true,
);
static WIDGET: Asset = Asset::new(
    include_str!("../../../web/widget.js"),
    JS,
    Caching::Short,
    false,
);

/// The assets the pages link to, by the name under `/assets/`.
static ASSETS: [(&str, Asset); 6] = [
    (
        "common.js",
        Asset::new(
            include_str!("../../../web/common.js"),
            JS,
            Caching::Short,
            false,
        ),
    ),
    (
        "console.js",
        Asset::new(
            include_str!("../../../web/console.js"),
            JS,
            Caching::Short,
            false,
        ),
    ),
    (
        "admin.js",
        Asset::new(
            include_str!("../../../web/admin.js"),
            JS,
            Caching::Short,
            false,
        ),
    ),
    (
        "console.css",
        Asset::new(
            include_str!("../../../web/console.css"),
            CSS,
            Caching::Short,
            false,
        ),
    ),
    (
        "admin.css",
        Asset::new(
            include_str!("../../../web/admin.css"),
            CSS,
            Caching::Short,
            false,
        ),
    ),
    (
        "shop.css",
        Asset::new(
            include_str!("../../../web/shop.css"),
            CSS,
            Caching::Short,
            false,
        ),
    ),
];

/// The demo shop page with the widget.
#[utoipa::path(
    get,
    path = "/",
    operation_id = "pages_shop",
    tag = "pages",
    description = "Compiled into the binary; answers HEAD too. Carries an `ETag`: a request \
                   with a matching `If-None-Match` gets 304. No authentication.",
    responses(
        (status = 200, description = "The demo shop page with the widget.", body = String, content_type = "text/html; charset=utf-8"),
        (status = 304, description = "Not modified (`If-None-Match` matched the `ETag`)"),
    )
)]
pub async fn shop(req: HttpRequest) -> HttpResponse {
    SHOP.respond(&req)
}

/// The embeddable widget (one script tag).
#[utoipa::path(
    get,
    path = "/widget.js",
    operation_id = "pages_widget",
    tag = "pages",
    description = "Compiled into the binary; answers HEAD too. Carries an `ETag`: a request \
                   with a matching `If-None-Match` gets 304. No authentication.",
    responses(
        (status = 200, description = "The embeddable widget (one script tag).", body = String, content_type = "text/javascript; charset=utf-8"),
        (status = 304, description = "Not modified (`If-None-Match` matched the `ETag`)"),
    )
)]
pub async fn widget(req: HttpRequest) -> HttpResponse {
    WIDGET.respond(&req)
}

/// The agent console.
#[utoipa::path(
    get,
    path = "/console",
    operation_id = "pages_console",
    tag = "pages",
    description = "Compiled into the binary; answers HEAD too. Carries an `ETag`: a request \
                   with a matching `If-None-Match` gets 304. No authentication.",
    responses(
        (status = 200, description = "The agent console.", body = String, content_type = "text/html; charset=utf-8"),
        (status = 304, description = "Not modified (`If-None-Match` matched the `ETag`)"),
    )
)]
pub async fn console(req: HttpRequest) -> HttpResponse {
    CONSOLE.respond(&req)
}

/// The admin console (knowledge base, agents, KPIs).
#[utoipa::path(
    get,
    path = "/admin",
    operation_id = "pages_admin",
    tag = "pages",
    description = "Compiled into the binary; answers HEAD too. Carries an `ETag`: a request \
                   with a matching `If-None-Match` gets 304. No authentication.",
    responses(
        (status = 200, description = "The admin console (knowledge base, agents, KPIs).", body = String, content_type = "text/html; charset=utf-8"),
        (status = 304, description = "Not modified (`If-None-Match` matched the `ETag`)"),
    )
)]
pub async fn admin(req: HttpRequest) -> HttpResponse {
    ADMIN.respond(&req)
}

/// A script or style sheet the pages link to.
#[utoipa::path(
    get,
    path = "/assets/{name}",
    operation_id = "pages_asset",
    tag = "pages",
    description = "`common.js`, `console.js`, `admin.js`, `console.css`, `admin.css` or \
                   `shop.css`; answers HEAD too, with an `ETag`. No authentication.",
    params(("name" = String, Path, description = "The asset's file name", example = "console.js")),
    responses(
        (status = 200, description = "The asset", content(
            (String = "text/javascript; charset=utf-8"),
            (String = "text/css; charset=utf-8"),
        )),
        (status = 304, description = "Not modified (`If-None-Match` matched the `ETag`)"),
        (status = 404, response = super::openapi::NotFound),
    )
)]
pub async fn asset(
    req: HttpRequest,
    name: web::Path<String>,
) -> Result<HttpResponse, crate::error::ApiError> {
    ASSETS
        .iter()
        .find(|(n, _)| *n == name.as_str())
        .map(|(_, asset)| asset.respond(&req))
        .ok_or(crate::error::ApiError::NotFound("asset"))
}
