//! The `http` executor: one request through a connection (its base URL and credential from
//! weir.toml), with the step's idempotency key as the `Idempotency-Key` header, a cap on the
//! response body, a timeout, and the network policy of [`super::net`] applied to the first
//! request and to every redirect (at most five).
//!
//! reqwest with rustls and the ring provider (no OpenSSL; notes/deps.md), roots from the
//! system store. A 2xx (or an unfollowed 3xx) is the step's output; any other status fails
//! the step with `HTTP-STATUS`, transient for 408, 425, 429 and 5xx, so `retry … on
//! transient` retries exactly those.

use super::error::{ErrorClass, ExecError};
use super::net::{GuardedResolver, Refused, is_public};
use secrecy::{ExposeSecret, SecretString};
use std::net::IpAddr;
use std::sync::{Arc, Once};
use std::time::Duration;

/// At most this many redirects are followed.
pub const MAX_REDIRECTS: usize = 5;

/// Response headers whose values are never kept (they would reach the journal).
const SENSITIVE_HEADERS: &[&str] =
    &["set-cookie", "authorization", "proxy-authorization", "www-authenticate"];

/// What a step's connection contributes to its requests.
#[derive(Clone, Debug)]
pub struct HttpConnection {
    /// The connection's name (for messages).
    pub name: String,
    /// `base_url` from weir.toml; a step's target is resolved against it.
    pub base_url: reqwest::Url,
    /// The resolved `auth` secret: sent as `Authorization`, as is when it already names a
    /// scheme (`Basic …`, `token …`), otherwise as `Bearer VALUE`.
    pub auth: Option<SecretString>,
    /// `allow_private_network = true`: loopback and private targets are allowed.
    pub allow_private: bool,
}

/// A header value: plain text, or a secret resolved for this request only.
#[derive(Clone, Debug)]
pub enum HeaderValue {
    /// Text from the flow.
    Plain(String),
    /// A secret (`secret NAME` in a header).
    Secret(SecretString),
}

/// One request of an http step, its expressions already evaluated.
#[derive(Clone, Debug)]
pub struct HttpRequest {
    /// `GET`, `POST`, ….
    pub method: reqwest::Method,
    /// The step's target: a path resolved against the base URL, or an absolute URL.
    pub target: String,
    /// Extra headers.
    pub headers: Vec<(String, HeaderValue)>,
    /// A JSON body.
    pub body: Option<serde_json::Value>,
    /// The step's `idempotency_key`.
    pub idempotency_key: Option<String>,
    /// The most response bytes kept (`max_body`); more fails the step with `HTTP-TOO-LARGE`.
    pub max_body: u64,
    /// The step's timeout for the whole exchange.
    pub timeout: Duration,
}

/// What came back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// Headers with lowercase names, in order; sensitive values are dropped.
    pub headers: Vec<(String, String)>,
    /// The body, at most `max_body` bytes.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The body as JSON, if it is JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// Runs http steps. One client per network policy, shared by every request (connection
/// pooling); cheap to clone.
#[derive(Clone, Debug)]
pub struct HttpExecutor {
    public_only: reqwest::Client,
    with_private: reqwest::Client,
}

static PROVIDER: Once = Once::new();

impl HttpExecutor {
    /// Build the clients (installs rustls's ring provider once per process).
    pub fn new() -> Result<HttpExecutor, ExecError> {
        PROVIDER.call_once(|| {
            // Fails only when a provider is already installed, which is just as good.
            let _ = rustls::crypto::ring::default_provider().install_default();
        });
        Ok(HttpExecutor { public_only: client(false)?, with_private: client(true)? })
    }

    /// Send one request and read the response (at most `max_body` bytes).
    pub async fn execute(
        &self,
        connection: &HttpConnection,
        request: HttpRequest,
    ) -> Result<HttpResponse, ExecError> {
        let url = target_url(connection, &request.target)?;
        if !connection.allow_private && !host_allowed(&url) {
            return Err(refused(connection, url.host_str().unwrap_or("")));
        }
        let client = if connection.allow_private { &self.with_private } else { &self.public_only };
        let mut builder = client.request(request.method.clone(), url).timeout(request.timeout);
        if let Some(auth) = &connection.auth {
            let value = auth.expose_secret();
            let value = if value.contains(' ') { value.to_string() } else { format!("Bearer {value}") };
            builder = builder.header(reqwest::header::AUTHORIZATION, sensitive(&value)?);
        }
        for (name, value) in &request.headers {
            let value = match value {
                HeaderValue::Plain(text) => reqwest::header::HeaderValue::from_str(text).map_err(|_| {
                    ExecError::permanent("HTTP-URL", format!("header `{name}` has a value HTTP cannot carry"))
                })?,
                HeaderValue::Secret(secret) => sensitive(secret.expose_secret())?,
            };
            builder = builder.header(name.as_str(), value);
        }
        if let Some(key) = &request.idempotency_key {
            builder = builder.header("Idempotency-Key", key.as_str());
        }
        if let Some(body) = &request.body {
            builder = builder.json(body);
        }
        let mut response = builder.send().await.map_err(|e| classify(connection, e))?;
        let status = response.status().as_u16();
        if let Some(length) = response.content_length()
            && length > request.max_body
        {
            return Err(too_large(request.max_body));
        }
        let headers = response
            .headers()
            .iter()
            .filter(|(name, _)| !SENSITIVE_HEADERS.contains(&name.as_str()))
            .map(|(name, value)| {
                (name.as_str().to_string(), String::from_utf8_lossy(value.as_bytes()).into_owned())
            })
            .collect();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| classify(connection, e))? {
            if (body.len() + chunk.len()) as u64 > request.max_body {
                return Err(too_large(request.max_body));
            }
            body.extend_from_slice(&chunk);
        }
        if !(200..400).contains(&status) {
            let class = if matches!(status, 408 | 425 | 429) || status >= 500 {
                ErrorClass::Transient
            } else {
                ErrorClass::Permanent
            };
            return Err(ExecError {
                code: "HTTP-STATUS",
                class,
                message: format!("connection `{}` answered {status}", connection.name),
                status: Some(status),
            });
        }
        Ok(HttpResponse { status, headers, body })
    }
}

fn client(allow_private: bool) -> Result<reqwest::Client, ExecError> {
    let policy = reqwest::redirect::Policy::custom(move |attempt| {
        // `previous` holds every URL requested so far, the first one included.
        if attempt.previous().len() > MAX_REDIRECTS {
            attempt.error(TooManyRedirects)
        } else if !allow_private && !host_allowed(attempt.url()) {
            let host = attempt.url().host_str().unwrap_or("").to_string();
            attempt.error(Refused { host })
        } else {
            attempt.follow()
        }
    });
    reqwest::Client::builder()
        .dns_resolver(Arc::new(GuardedResolver { allow_private }))
        .redirect(policy)
        .no_proxy()
        .user_agent(concat!("weir/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| ExecError::permanent("HTTP-CONNECT", format!("cannot build the HTTP client: {e}")))
}

/// The URL of a request: an absolute target as is, a path joined to the base URL.
fn target_url(connection: &HttpConnection, target: &str) -> Result<reqwest::Url, ExecError> {
    let url = if target.starts_with("http://") || target.starts_with("https://") {
        reqwest::Url::parse(target)
    } else {
        let mut base = connection.base_url.clone();
        // `https://api.example.com/v2` + `/items` is `…/v2/items`, not `…/items`.
        let path = format!("{}/", base.path().trim_end_matches('/'));
        base.set_path(&path);
        let (path, query) = target.split_once('?').map_or((target, None), |(p, q)| (p, Some(q)));
        let mut url = base.join(path.trim_start_matches('/'));
        if let (Ok(u), Some(q)) = (&mut url, query) {
            u.set_query(Some(q));
        }
        url
    };
    let url = url.map_err(|e| {
        ExecError::permanent(
            "HTTP-URL",
            format!("the target of a step on connection `{}` is not a URL: {e}", connection.name),
        )
    })?;
    match url.scheme() {
        "http" | "https" => Ok(url),
        other => Err(ExecError::permanent(
            "HTTP-URL",
            format!("`{other}:` URLs are not fetched; use http or https"),
        )),
    }
}

/// An IP-literal host must be public; names are checked by the resolver.
fn host_allowed(url: &reqwest::Url) -> bool {
    let host = url.host_str().unwrap_or("");
    match host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
        Ok(ip) => is_public(ip),
        Err(_) => true,
    }
}

fn sensitive(value: &str) -> Result<reqwest::header::HeaderValue, ExecError> {
    let mut header = reqwest::header::HeaderValue::from_str(value).map_err(|_| {
        ExecError::permanent("HTTP-URL", "a secret header value has characters HTTP cannot carry")
    })?;
    header.set_sensitive(true);
    Ok(header)
}

fn refused(connection: &HttpConnection, host: &str) -> ExecError {
    ExecError::permanent(
        "HTTP-REFUSED-TARGET",
        format!(
            "connection `{}` may not reach `{host}` (a loopback, private or link-local address); set `allow_private_network = true` on it in weir.toml if that is intended",
            connection.name
        ),
    )
}

fn too_large(limit: u64) -> ExecError {
    ExecError::permanent(
        "HTTP-TOO-LARGE",
        format!(
            "the response is larger than {limit} bytes; raise the step's `max_body`, or read it as a resource"
        ),
    )
}

/// Turn a reqwest error into a coded one, without the URL (its query may carry a token).
fn classify(connection: &HttpConnection, error: reqwest::Error) -> ExecError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
    while let Some(e) = source {
        if let Some(refused_host) = e.downcast_ref::<Refused>() {
            return refused(connection, &refused_host.host);
        }
        if e.downcast_ref::<TooManyRedirects>().is_some() {
            return ExecError::permanent(
                "HTTP-REDIRECTS",
                format!("connection `{}` redirected more than {MAX_REDIRECTS} times", connection.name),
            );
        }
        source = e.source();
    }
    let error = error.without_url();
    if error.is_timeout() {
        ExecError::transient(
            "HTTP-TIMEOUT",
            format!("connection `{}` did not answer in time", connection.name),
        )
    } else if error.is_connect() || error.is_request() {
        ExecError::transient(
            "HTTP-CONNECT",
            format!("cannot reach connection `{}`: {error}", connection.name),
        )
    } else {
        ExecError::transient(
            "HTTP-BODY",
            format!("reading the answer of connection `{}` failed: {error}", connection.name),
        )
    }
}

/// The redirect limit was reached.
#[derive(Debug, thiserror::Error)]
#[error("too many redirects")]
struct TooManyRedirects;
