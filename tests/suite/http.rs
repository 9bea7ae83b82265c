//! A real HTTP/1.1 server on 127.0.0.1 for the interpreter's tests: one thread per
//! connection, each request handed whole to the test's handler, which answers with a status
//! and a JSON body (and may block: the server is concurrent).

use std::io::{Read, Write};

/// One request, as the handler sees it.
pub(super) struct Request {
    /// `GET /path HTTP/1.1`.
    pub line: String,
    /// The header block, lowercased.
    pub head: String,
    /// The body.
    pub body: String,
}

impl Request {
    /// The path of the request line.
    pub fn path(&self) -> &str {
        self.line.split_whitespace().nth(1).unwrap_or("")
    }

    /// A header's value (its name lowercased), trimmed.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| l.strip_prefix(&format!("{name}:"))).map(str::trim)
    }
}

/// Starts a server answering every request with `handler`; returns its port.
pub(super) fn serve(handler: impl Fn(&Request) -> (u16, String) + Send + Sync + 'static) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let handler = std::sync::Arc::new(handler);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let handler = handler.clone();
            std::thread::spawn(move || {
                let Some(request) = read(&mut stream) else { return };
                let (status, body) = handler(&request);
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    port
}

fn read(stream: &mut std::net::TcpStream) -> Option<Request> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    };
    let raw = String::from_utf8_lossy(&buffer[..head_end]).to_string();
    let line = raw.lines().next().unwrap_or("").to_string();
    let head = raw.to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while buffer.len() < head_end + length {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    }
    let body = String::from_utf8_lossy(&buffer[head_end..]).to_string();
    Some(Request { line, head, body })
}
