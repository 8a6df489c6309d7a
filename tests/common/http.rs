//! The HTTP side of the tests' fake servers: read one request, write one whole answer. Only
//! what the fakes need (a request line, headers up to a blank line, a `Content-Length` body).
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// A fake server on 127.0.0.1 (a free port): each connection is answered by `handle` on a
/// thread of its own, with `state` shared between them. Its port and the state.
pub fn serve<S: Send + 'static>(
    state: S,
    handle: fn(TcpStream, &Arc<Mutex<S>>) -> std::io::Result<()>,
) -> (u16, Arc<Mutex<S>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let state = Arc::new(Mutex::new(state));
    let st = Arc::clone(&state);
    std::thread::spawn(move || {
        for c in l.incoming().flatten() {
            let st = Arc::clone(&st);
            std::thread::spawn(move || {
                let _ = handle(c, &st);
            });
        }
    });
    (port, state)
}

/// One request as a fake server sees it.
pub struct Request {
    pub method: String,
    pub path: String,
    /// The body (lossy UTF-8: the fakes only look for words in it and keep it).
    pub body: String,
}

/// Read one request from `c`: its request line, its headers and a `Content-Length` body.
pub fn read_request(c: &TcpStream) -> std::io::Result<Request> {
    let mut r = BufReader::new(c.try_clone()?);
    let mut line = String::new();
    r.read_line(&mut line)?;
    let mut p = line.split_whitespace();
    let (method, path) = (
        p.next().unwrap_or("").to_string(),
        p.next().unwrap_or("").to_string(),
    );
    let mut len = 0usize;
    loop {
        let mut h = String::new();
        r.read_line(&mut h)?;
        if h.trim().is_empty() {
            break;
        }
        if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body)?;
    let body = String::from_utf8_lossy(&body).into_owned();
    Ok(Request { method, path, body })
}

/// A whole answer with `Content-Length`, and the connection closed after it.
pub fn reply(
    c: &mut TcpStream,
    status: &str,
    content_type: &str,
    body: &str,
) -> std::io::Result<()> {
    write!(
        c,
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// A fake llama-server (`/props`, an idle `/slots`, 404 elsewhere) whose answer to the
/// streaming request is written by `stream`: the tests' hostile servers.
pub fn llama_with_stream(stream: fn(&mut TcpStream) -> std::io::Result<()>) -> u16 {
    serve(stream, |mut c, st| {
        let r = read_request(&c)?;
        let stream = *st.lock().unwrap();
        match (r.method.as_str(), r.path.as_str()) {
            ("GET", "/props") => reply(
                &mut c,
                "200 OK",
                "application/json",
                r#"{"build_info":"b1-hostile"}"#,
            ),
            ("GET", "/slots") => reply(
                &mut c,
                "200 OK",
                "application/json",
                r#"[{"id":0,"is_processing":false}]"#,
            ),
            ("POST", "/v1/chat/completions") => stream(&mut c),
            _ => reply(&mut c, "404 Not Found", "application/json", "{}"),
        }
    })
    .0
}

/// Write `piece` again and again, `pause` apart, until the client closes the connection (a
/// write fails), `max_writes` writes or `max_time`: a hostile server's endless part, bounded.
pub fn write_endlessly(
    c: &mut TcpStream,
    piece: &[u8],
    pause: std::time::Duration,
    max_writes: usize,
    max_time: std::time::Duration,
) -> std::io::Result<()> {
    let start = std::time::Instant::now();
    for _ in 0..max_writes {
        if start.elapsed() > max_time {
            break;
        }
        c.write_all(piece)?;
        if !pause.is_zero() {
            std::thread::sleep(pause);
        }
    }
    Ok(())
}

/// Keep the connection open without answering until the client closes it or `max_time`.
pub fn stay_silent(c: &mut TcpStream, max_time: std::time::Duration) -> std::io::Result<()> {
    let start = std::time::Instant::now();
    c.set_read_timeout(Some(std::time::Duration::from_millis(50)))?;
    let mut buf = [0u8; 1024];
    while start.elapsed() < max_time {
        match c.read(&mut buf) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break,
        }
    }
    Ok(())
}
