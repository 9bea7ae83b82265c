//! The http executor against a real HTTP server on 127.0.0.1 (a small tokio server written
//! here: it records every request and answers what each test asks).

use secrecy::SecretString;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use weir_runtime::exec::http::{HeaderValue, HttpConnection, HttpExecutor, HttpRequest};
use weir_runtime::exec::{ErrorClass, ExecError};

/// One request as the server saw it.
#[derive(Clone, Debug, Default)]
struct Seen {
    request_line: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// What the server answers: status, extra headers, body, delay.
type Answer = Arc<dyn Fn(&Seen) -> (u16, Vec<(String, String)>, Vec<u8>, Duration) + Send + Sync>;

async fn serve(answer: Answer) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1");
    let address = listener.local_addr().expect("address");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else { return };
            let answer = answer.clone();
            let log = log.clone();
            tokio::spawn(async move {
                let mut buffer = Vec::new();
                let mut chunk = [0u8; 4096];
                // Read the head, then the body by Content-Length.
                let head_end = loop {
                    let Ok(n) = socket.read(&mut chunk).await else { return };
                    if n == 0 {
                        return;
                    }
                    buffer.extend_from_slice(&chunk[..n]);
                    if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                        break at + 4;
                    }
                };
                let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
                let mut lines = head.split("\r\n");
                let request_line = lines.next().unwrap_or("").to_string();
                let headers: Vec<(String, String)> = lines
                    .filter_map(|l| l.split_once(':'))
                    .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
                    .collect();
                let length: usize = headers
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                    .and_then(|(_, v)| v.parse().ok())
                    .unwrap_or(0);
                while buffer.len() < head_end + length {
                    let Ok(n) = socket.read(&mut chunk).await else { return };
                    if n == 0 {
                        break;
                    }
                    buffer.extend_from_slice(&chunk[..n]);
                }
                let body = String::from_utf8_lossy(&buffer[head_end..]).into_owned();
                let request = Seen { request_line, headers, body };
                let (status, extra, body, delay) = answer(&request);
                log.lock().expect("log").push(request);
                tokio::time::sleep(delay).await;
                let mut response =
                    format!("HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n", body.len());
                for (name, value) in extra {
                    response.push_str(&format!("{name}: {value}\r\n"));
                }
                response.push_str("\r\n");
                let _ = socket.write_all(response.as_bytes()).await;
                let _ = socket.write_all(&body).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    (format!("http://{address}"), seen)
}

fn connection(base: &str, allow_private: bool) -> HttpConnection {
    HttpConnection {
        name: "api".into(),
        base_url: base.parse().expect("base url"),
        auth: Some(SecretString::from("canary-token-1234".to_string())),
        allow_private,
    }
}

fn request(method: reqwest::Method, target: &str) -> HttpRequest {
    HttpRequest {
        method,
        target: target.into(),
        headers: Vec::new(),
        body: None,
        idempotency_key: None,
        max_body: 1 << 20,
        timeout: Duration::from_secs(5),
    }
}

fn ok_json(body: &'static str) -> Answer {
    Arc::new(move |_| {
        (
            200,
            vec![("content-type".into(), "application/json".into())],
            body.as_bytes().to_vec(),
            Duration::ZERO,
        )
    })
}

#[tokio::test]
async fn posts_json_with_auth_and_idempotency_key_and_reads_json() {
    let (base, seen) = serve(ok_json(r#"{"id": 7}"#)).await;
    let executor = HttpExecutor::new().expect("executor");
    let mut req = request(reqwest::Method::POST, "/v1/items?dry=1");
    req.body = Some(serde_json::json!({ "name": "x" }));
    req.idempotency_key = Some("run-1-create".into());
    req.headers.push(("X-Trace".into(), HeaderValue::Plain("t-1".into())));
    let response = executor.execute(&connection(&base, true), req).await.expect("response");
    assert_eq!(response.status, 200);
    assert_eq!(response.json(), Some(serde_json::json!({ "id": 7 })));
    let seen = seen.lock().expect("seen")[0].clone();
    assert_eq!(seen.request_line, "POST /v1/items?dry=1 HTTP/1.1");
    assert_eq!(seen.header("authorization"), Some("Bearer canary-token-1234"));
    assert_eq!(seen.header("idempotency-key"), Some("run-1-create"));
    assert_eq!(seen.header("x-trace"), Some("t-1"));
    assert_eq!(seen.body, r#"{"name":"x"}"#);
}

#[tokio::test]
async fn a_target_is_joined_under_the_base_path() {
    let (base, seen) = serve(ok_json("{}")).await;
    let executor = HttpExecutor::new().expect("executor");
    let conn = connection(&format!("{base}/api/v2/"), true);
    executor.execute(&conn, request(reqwest::Method::GET, "/repos/a")).await.expect("response");
    executor.execute(&conn, request(reqwest::Method::GET, "repos/b")).await.expect("response");
    let seen = seen.lock().expect("seen");
    assert_eq!(seen[0].request_line, "GET /api/v2/repos/a HTTP/1.1");
    assert_eq!(seen[1].request_line, "GET /api/v2/repos/b HTTP/1.1");
}

#[tokio::test]
async fn loopback_is_refused_unless_the_connection_allows_it() {
    let (base, seen) = serve(ok_json("{}")).await;
    let executor = HttpExecutor::new().expect("executor");
    let error =
        executor.execute(&connection(&base, false), request(reqwest::Method::GET, "/")).await.unwrap_err();
    assert_eq!(error.code, "HTTP-REFUSED-TARGET", "{error}");
    assert_eq!(error.class, ErrorClass::Permanent);
    assert!(error.message.contains("allow_private_network"), "{error}");
    // By name too: `localhost` resolves only to loopback addresses.
    let port = base.rsplit(':').next().expect("port");
    let by_name = connection(&format!("http://localhost:{port}"), false);
    let error = executor.execute(&by_name, request(reqwest::Method::GET, "/")).await.unwrap_err();
    assert_eq!(error.code, "HTTP-REFUSED-TARGET", "{error}");
    assert!(seen.lock().expect("seen").is_empty(), "nothing reached the server");
}

/// An absolute target is checked like the base URL. (A redirect's target goes through the
/// same check in the redirect policy, and names through the guarded resolver; an end-to-end
/// redirect test needs a public first hop, which this machine does not have.)
#[tokio::test]
async fn an_absolute_target_on_a_private_address_is_refused() {
    let (base, _) = serve(ok_json("{}")).await;
    let executor = HttpExecutor::new().expect("executor");
    let error = executor
        .execute(
            &connection("https://example.invalid", false),
            request(reqwest::Method::GET, &format!("{base}/x")),
        )
        .await
        .unwrap_err();
    assert_eq!(error.code, "HTTP-REFUSED-TARGET", "{error}");
}

#[tokio::test]
async fn too_many_redirects_fail_the_step() {
    let answer: Answer = Arc::new(|seen: &Seen| {
        let n: u32 = seen
            .request_line
            .split('/')
            .nth(1)
            .and_then(|p| p.split(' ').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        (302, vec![("location".into(), format!("/{}", n + 1))], Vec::new(), Duration::ZERO)
    });
    let (base, seen) = serve(answer).await;
    let executor = HttpExecutor::new().expect("executor");
    let error =
        executor.execute(&connection(&base, true), request(reqwest::Method::GET, "/0")).await.unwrap_err();
    assert_eq!(error.code, "HTTP-REDIRECTS", "{error}");
    assert_eq!(seen.lock().expect("seen").len(), 6, "the first request and five redirects");
}

#[tokio::test]
async fn a_body_over_max_body_fails_the_step() {
    let answer: Answer = Arc::new(|_| (200, Vec::new(), vec![b'x'; 5000], Duration::ZERO));
    let (base, _) = serve(answer).await;
    let executor = HttpExecutor::new().expect("executor");
    let mut req = request(reqwest::Method::GET, "/");
    req.max_body = 1000;
    let error = executor.execute(&connection(&base, true), req).await.unwrap_err();
    assert_eq!(error.code, "HTTP-TOO-LARGE", "{error}");
}

#[tokio::test]
async fn statuses_fail_with_their_retry_class() {
    let answer: Answer = Arc::new(|seen: &Seen| {
        let status = if seen.request_line.contains("/busy") { 503 } else { 404 };
        (status, Vec::new(), b"no".to_vec(), Duration::ZERO)
    });
    let (base, _) = serve(answer).await;
    let executor = HttpExecutor::new().expect("executor");
    let conn = connection(&base, true);
    let busy: ExecError = executor.execute(&conn, request(reqwest::Method::GET, "/busy")).await.unwrap_err();
    assert_eq!((busy.code, busy.class, busy.status), ("HTTP-STATUS", ErrorClass::Transient, Some(503)));
    let missing = executor.execute(&conn, request(reqwest::Method::GET, "/gone")).await.unwrap_err();
    assert_eq!(
        (missing.code, missing.class, missing.status),
        ("HTTP-STATUS", ErrorClass::Permanent, Some(404))
    );
}

#[tokio::test]
async fn a_slow_answer_times_out_as_transient_and_no_secret_is_in_any_message() {
    let answer: Answer = Arc::new(|_| (200, Vec::new(), Vec::new(), Duration::from_secs(3)));
    let (base, _) = serve(answer).await;
    let executor = HttpExecutor::new().expect("executor");
    let mut req = request(reqwest::Method::GET, "/slow?token=query-canary");
    req.timeout = Duration::from_millis(200);
    let error = executor.execute(&connection(&base, true), req).await.unwrap_err();
    assert_eq!((error.code, error.class), ("HTTP-TIMEOUT", ErrorClass::Transient), "{error}");
    for text in [error.to_string(), format!("{error:?}")] {
        assert!(!text.contains("canary"), "a secret or the query reached a message: {text}");
    }
}

#[tokio::test]
async fn sensitive_response_headers_are_dropped() {
    let answer: Answer = Arc::new(|_| {
        (
            200,
            vec![("set-cookie".into(), "session=canary".into()), ("x-id".into(), "1".into())],
            Vec::new(),
            Duration::ZERO,
        )
    });
    let (base, _) = serve(answer).await;
    let executor = HttpExecutor::new().expect("executor");
    let response =
        executor.execute(&connection(&base, true), request(reqwest::Method::GET, "/")).await.expect("ok");
    assert!(response.headers.iter().all(|(n, _)| n != "set-cookie"));
    assert!(response.headers.iter().any(|(n, v)| n == "x-id" && v == "1"));
}

#[test]
fn every_executor_error_code_is_documented() {
    let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/runtime.md"))
        .expect("docs/runtime.md");
    for code in weir_runtime::exec::error::EXEC_ERROR_CODES {
        assert!(docs.contains(&format!("`{code}`")), "{code} is not in docs/runtime.md");
    }
}
