//! A blocking HTTP/1.1 client over plain TCP, just enough to time a streaming answer.
//!
//! Why not a crate: the timing contract is "a chunk's arrival is the `read()` that delivered its
//! bytes", which needs the socket reads themselves; the blocking clients on crates.io either
//! buffer below the body `Read` (so a read's time is not a chunk's time) or pull in TLS and a
//! runtime the static board binary does not want (ureq 3 measured: docs/SERVERS.md, "Why
//! rkbench's own client"). This is a few hundred lines of std: one request per
//! connection (`Connection: close`), `Content-Length`, chunked or close-delimited bodies, and a
//! read timeout so the caller can enforce deadlines and Ctrl-C between reads. No TLS: boards
//! serve plain HTTP on the LAN or localhost.
use super::response::{self, ResponseDecoder};
use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// `http://HOST:PORT[/prefix]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Url {
    pub host: String,
    pub port: u16,
    /// Path prefix without a trailing slash ("" for none), prepended to every endpoint.
    pub prefix: String,
    /// Sent as `Authorization: Bearer …` with every request (a server started with an API
    /// key). Never displayed, debug-printed or recorded.
    pub api_key: Option<String>,
}

impl std::fmt::Debug for Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Url({self}{})",
            if self.api_key.is_some() {
                ", with an API key"
            } else {
                ""
            }
        )
    }
}

impl Url {
    pub fn parse(s: &str) -> Result<Url, String> {
        let rest = if let Some(r) = s.strip_prefix("http://") {
            r
        } else if s.starts_with("https://") {
            return Err(format!(
                "{s}: https is not supported (no TLS in rkbench; boards serve plain HTTP), use http://HOST:PORT"
            ));
        } else {
            return Err(format!("{s}: not an http:// URL; use http://HOST:PORT"));
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let (host, port) = if let Some(h) = authority.strip_prefix('[') {
            let end = h
                .find(']')
                .ok_or_else(|| format!("{s}: unclosed '[' in the host"))?;
            let port = h[end + 1..].strip_prefix(':').unwrap_or("80");
            (h[..end].to_string(), port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), p),
                None => (authority.to_string(), "80"),
            }
        };
        if host.is_empty() {
            return Err(format!("{s}: no host; use http://HOST:PORT"));
        }
        let port =
            port.parse::<u16>().ok().filter(|&p| p > 0).ok_or_else(|| {
                format!("{s}: {port:?} is not a port number; use http://HOST:PORT")
            })?;
        Ok(Url {
            host,
            port,
            prefix: path.trim_end_matches('/').to_string(),
            api_key: None,
        })
    }

    /// The host names this machine by its loopback name or address.
    pub fn is_loopback(&self) -> bool {
        let h = self.host.to_ascii_lowercase();
        h == "localhost"
            || h == "::1"
            || h.parse::<std::net::Ipv4Addr>()
                .is_ok_and(|a| a.is_loopback())
    }

    /// The server runs on this machine, so its telemetry and process share the token clock:
    /// named by loopback, or at any of this machine's own addresses (the board's LAN address or
    /// host name, as a client's configuration often has it), which a connection tells: a socket
    /// to one of them has that address at both ends. Opens (and closes) one connection.
    pub fn on_this_machine(&self) -> bool {
        if self.is_loopback() {
            return true;
        }
        let Ok(addrs) = (self.host.as_str(), self.port).to_socket_addrs() else {
            return false;
        };
        addrs.into_iter().any(|a| {
            TcpStream::connect_timeout(&a, Duration::from_secs(2))
                .ok()
                .and_then(|s| Some(same_ends(s.local_addr().ok()?, s.peer_addr().ok()?)))
                .unwrap_or(false)
        })
    }

    /// `host:port` as sent in the `Host` header.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Both ends of a connection are one address: the peer is this machine.
fn same_ends(local: std::net::SocketAddr, peer: std::net::SocketAddr) -> bool {
    local.ip() == peer.ip()
}

impl std::fmt::Display for Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "http://{}{}", self.authority(), self.prefix)
    }
}

/// What one call of [`Exchange::poll`] saw.
#[derive(Debug, PartialEq, Eq)]
pub enum Event {
    /// The final response head is complete (interim 1xx answers are skipped).
    Head { status: u16, at: Instant },
    /// Decoded body bytes; `at` is when `read()` returned them, `read` numbers that read.
    Data {
        bytes: Vec<u8>,
        at: Instant,
        read: u32,
    },
    /// The body ended: by its length / last chunk (`clean`), or by the server closing early.
    End { at: Instant, clean: bool },
    /// Nothing decodable arrived (no bytes within the tick, or bytes of a head, chunk-size line
    /// or trailer still incomplete): the caller checks its deadline and signals.
    Tick,
}

/// One request and its streamed response.
pub struct Exchange {
    sock: TcpStream,
    decoder: ResponseDecoder,
    /// Events decoded from the last read, not yet returned (at most head, data, end/error).
    pending: VecDeque<io::Result<Event>>,
    /// The response ended (or failed): no more reads.
    finished: bool,
    reads: u32,
    last_read_at: Instant,
    pub status: u16,
    /// Response headers, names lower-cased, in order.
    pub headers: Vec<(String, String)>,
}

/// Open a connection and send one request (`Connection: close`). `tick` is the read timeout
/// between polls; `connect_timeout` bounds the TCP connect.
pub fn send(
    url: &Url,
    method: &str,
    path: &str,
    body: Option<&str>,
    connect_timeout: Duration,
    tick: Duration,
) -> io::Result<Exchange> {
    let addrs: Vec<_> = (url.host.as_str(), url.port).to_socket_addrs()?.collect();
    let mut last = io::Error::new(io::ErrorKind::NotFound, "host has no address");
    let mut sock = None;
    for a in addrs {
        match TcpStream::connect_timeout(&a, connect_timeout) {
            Ok(s) => {
                sock = Some(s);
                break;
            }
            Err(e) => last = e,
        }
    }
    let mut sock = sock.ok_or(last)?;
    sock.set_nodelay(true)?;
    sock.set_read_timeout(Some(tick.max(Duration::from_millis(1))))?;
    sock.set_write_timeout(Some(connect_timeout.max(Duration::from_secs(1))))?;
    let mut req = format!(
        "{method} {}{path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: rkbench/{}\r\nAccept: text/event-stream, application/x-ndjson, application/json\r\nAccept-Encoding: identity\r\nConnection: close\r\n",
        url.prefix,
        url.authority(),
        crate::provenance::VERSION
    );
    if let Some(k) = &url.api_key {
        req.push_str(&format!("Authorization: Bearer {k}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    if let Some(b) = body {
        bytes.extend_from_slice(b.as_bytes());
    }
    sock.write_all(&bytes)?;
    sock.flush()?;
    Ok(Exchange {
        sock,
        decoder: ResponseDecoder::new(),
        pending: VecDeque::new(),
        finished: false,
        reads: 0,
        last_read_at: Instant::now(),
        status: 0,
        headers: Vec::new(),
    })
}

impl Exchange {
    /// The value of response header `name` (lower-case), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        response::header(&self.headers, name)
    }

    /// The final response head has arrived.
    pub fn has_head(&self) -> bool {
        self.decoder.has_head()
    }

    /// Advance by at most one `read()`: return the head, the next decoded body bytes, the end,
    /// or `Tick`. Every read returns control, whatever part of the response it carried, so
    /// the caller's deadline and Ctrl-C hold against a server that trickles an endless head
    /// or trailer.
    pub fn poll(&mut self) -> io::Result<Event> {
        if let Some(ev) = self.pending.pop_front() {
            return ev;
        }
        if self.finished {
            return Ok(Event::End {
                at: self.last_read_at,
                clean: true,
            });
        }
        let mut buf = [0u8; 16 * 1024];
        match self.sock.read(&mut buf) {
            Ok(0) => {
                let at = Instant::now();
                self.finished = true;
                let clean = self
                    .decoder
                    .eof()
                    .map_err(|e| io::Error::new(io::ErrorKind::UnexpectedEof, e.to_string()))?;
                Ok(Event::End { at, clean })
            }
            Ok(n) => {
                // The arrival time of everything decoded from these bytes.
                let at = Instant::now();
                self.last_read_at = at;
                self.reads += 1;
                let mut bytes = Vec::new();
                let fed = self.decoder.feed(&buf[..n], &mut bytes);
                if fed.as_ref().is_ok_and(|f| f.head) {
                    self.status = self.decoder.status();
                    self.headers = self.decoder.headers().to_vec();
                    let status = self.status;
                    self.pending.push_back(Ok(Event::Head { status, at }));
                }
                if !bytes.is_empty() {
                    let read = self.reads;
                    self.pending.push_back(Ok(Event::Data { bytes, at, read }));
                }
                match fed {
                    Ok(f) if f.end => {
                        self.finished = true;
                        self.pending.push_back(Ok(Event::End { at, clean: true }));
                    }
                    Ok(_) => {}
                    Err(e) => {
                        self.finished = true;
                        self.pending.push_back(Err(invalid(&e.0)));
                    }
                }
                self.pending.pop_front().unwrap_or(Ok(Event::Tick))
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) =>
            {
                Ok(Event::Tick)
            }
            Err(e) => Err(e),
        }
    }

    /// Read the whole body (probes and non-streaming requests), at most `limit` bytes, giving up
    /// at `deadline` (checked after every read).
    pub fn read_to_end(&mut self, limit: usize, deadline: Instant) -> io::Result<Vec<u8>> {
        match self.read_body(limit, deadline, || false) {
            (out, None) => Ok(out),
            (_, Some(Cut::Failed(e))) => Err(e),
            (_, Some(Cut::TooLong)) => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "answered HTTP {} with more than {} MiB",
                    self.status,
                    limit >> 20
                ),
            )),
            (_, Some(Cut::Deadline | Cut::Stopped)) => {
                Err(io::Error::new(io::ErrorKind::TimedOut, self.silence()))
            }
        }
    }

    /// Read an error answer's body for its message: at most `limit` bytes, until the body ends,
    /// `deadline` passes or `stop()` says so (Ctrl-C), checked after every read as for a
    /// stream. Whatever arrived is kept, with why it was cut (`None`: the whole body).
    pub fn read_for_message(
        &mut self,
        limit: usize,
        deadline: Instant,
        stop: impl Fn() -> bool,
    ) -> (Vec<u8>, Option<String>) {
        let (out, cut) = self.read_body(limit, deadline, stop);
        let why = cut.map(|c| match c {
            Cut::Failed(e) => e.to_string(),
            Cut::TooLong => format!("longer than {} KiB", limit >> 10),
            Cut::Stopped => "interrupted".into(),
            Cut::Deadline => "its deadline passed".into(),
        });
        (out, why)
    }

    /// The body's bytes, at most `limit`, until it ends, `deadline` passes or `stop()` says so,
    /// both checked after every read; with why it was cut (`None`: the whole body).
    fn read_body(
        &mut self,
        limit: usize,
        deadline: Instant,
        stop: impl Fn() -> bool,
    ) -> (Vec<u8>, Option<Cut>) {
        let mut out = Vec::new();
        loop {
            match self.poll() {
                Err(e) => return (out, Some(Cut::Failed(e))),
                Ok(Event::End { .. }) => return (out, None),
                Ok(Event::Data { bytes, .. }) => {
                    let room = limit - out.len();
                    out.extend_from_slice(&bytes[..bytes.len().min(room)]);
                    if bytes.len() > room {
                        return (out, Some(Cut::TooLong));
                    }
                }
                Ok(Event::Head { .. } | Event::Tick) => {}
            }
            if stop() {
                return (out, Some(Cut::Stopped));
            }
            if Instant::now() >= deadline {
                return (out, Some(Cut::Deadline));
            }
        }
    }

    /// What a response cut off by a deadline had got to, for the message.
    fn silence(&self) -> String {
        if self.has_head() {
            format!(
                "answered HTTP {} but did not finish its answer",
                self.status
            )
        } else if self.reads == 0 {
            format!("{SILENT} sent no answer")
        } else {
            format!("{SILENT} did not finish its response head")
        }
    }

    /// Close the connection (a client deadline): both directions, so the server sees it.
    pub fn close(&mut self) {
        let _ = self.sock.shutdown(Shutdown::Both);
        self.finished = true;
    }
}

/// Why [`Exchange::read_body`] stopped before the body's end.
enum Cut {
    Failed(io::Error),
    TooLong,
    Deadline,
    Stopped,
}

/// How [`Exchange::read_to_end`] says that no response head came before its deadline.
const SILENT: &str = "accepted the connection but";

/// `e` is [`Exchange::read_to_end`]'s deadline passing before the response head came: the
/// server took the connection and said nothing (or too little to be a head).
pub fn no_head_in_time(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::TimedOut && e.to_string().starts_with(SILENT)
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

/// `GET path` (or `POST` with a body) and the whole answer: status and body text. For probes.
pub fn fetch(
    url: &Url,
    method: &str,
    path: &str,
    body: Option<&str>,
    timeout: Duration,
) -> io::Result<(u16, String)> {
    let deadline = Instant::now() + timeout;
    let mut x = send(url, method, path, body, timeout, Duration::from_millis(50))?;
    let bytes = x
        .read_to_end(4 << 20, deadline)
        .map_err(|e| match e.kind() {
            io::ErrorKind::TimedOut => io::Error::new(
                e.kind(),
                format!("{e} within {}", humantime::format_duration(timeout)),
            ),
            _ => e,
        })?;
    Ok((x.status, String::from_utf8_lossy(&bytes).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn a_server_at_one_of_this_machines_own_addresses_is_on_this_machine() {
        // Both ends of a connection to one of this machine's addresses are that address.
        let l = TcpListener::bind("0.0.0.0:0").unwrap();
        let port = l.local_addr().unwrap().port();
        std::thread::spawn(move || for _ in l.incoming() {});
        let u = Url::parse(&format!("http://127.0.0.1:{port}")).unwrap();
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        assert!(same_ends(s.local_addr().unwrap(), s.peer_addr().unwrap()));
        assert!(u.on_this_machine());
        // This machine's name resolves to one of its addresses (loopback or not): on it.
        let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
        let host = host.trim();
        if !host.is_empty() && (host, port).to_socket_addrs().is_ok() {
            let named = Url::parse(&format!("http://{host}:{port}")).unwrap();
            assert!(!named.is_loopback());
            assert!(named.on_this_machine(), "{host}");
        }
        // Another machine's address is not: the ends differ.
        let (a, b) = (
            "10.0.0.2:50000".parse().unwrap(),
            "10.0.0.1:8080".parse().unwrap(),
        );
        assert!(!same_ends(a, b));
        // A name that does not resolve: not taken for this machine.
        let gone = Url::parse(&format!("http://localhost.invalid:{port}")).unwrap();
        assert!(!gone.on_this_machine());
    }

    #[test]
    fn urls() {
        let mut k = Url::parse("http://127.0.0.1:8080").unwrap();
        k.api_key = Some("secret".into());
        // Shown and debug-printed without the key.
        assert_eq!(k.to_string(), "http://127.0.0.1:8080");
        assert!(!format!("{k:?}").contains("secret"));
        let u = Url::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.prefix.as_str()),
            ("127.0.0.1", 8080, "")
        );
        assert!(u.is_loopback());
        let u = Url::parse("http://board.local:11434/ollama/").unwrap();
        assert_eq!(u.prefix, "/ollama");
        assert!(!u.is_loopback());
        assert_eq!(u.to_string(), "http://board.local:11434/ollama");
        let u = Url::parse("http://[::1]:8000").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 8000));
        assert!(u.is_loopback());
        assert_eq!(Url::parse("http://h").unwrap().port, 80);
        assert!(Url::parse("https://h:1").unwrap_err().contains("no TLS"));
        assert!(Url::parse("h:1").is_err());
        assert!(Url::parse("http://h:99999").is_err());
        assert!(Url::parse("http://:80").is_err());
    }

    /// Serve `parts` one write at a time (with a pause so each is its own read), then close.
    fn serve(parts: Vec<Vec<u8>>) -> Url {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            for p in parts {
                s.write_all(&p).unwrap();
                s.flush().unwrap();
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        Url::parse(&format!("http://127.0.0.1:{port}")).unwrap()
    }

    /// `GET /` from `url`, polled every 20 ms.
    fn get(url: &Url) -> Exchange {
        send(
            url,
            "GET",
            "/",
            None,
            Duration::from_secs(5),
            Duration::from_millis(20),
        )
        .unwrap()
    }

    fn collect(url: &Url) -> (u16, Vec<(Vec<u8>, u32)>, bool) {
        let mut x = get(url);
        let mut data = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match x.poll().unwrap() {
                Event::Head { .. } => {}
                Event::Data { bytes, read, .. } => data.push((bytes, read)),
                Event::End { clean, .. } => return (x.status, data, clean),
                Event::Tick => assert!(Instant::now() < deadline, "no end"),
            }
        }
    }

    #[test]
    fn chunked_body_split_anywhere_decodes_per_read() {
        let head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        let body = b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n".to_vec();
        let mut all = head.clone();
        all.extend_from_slice(&body);
        // Every split of the response into two writes decodes to the same body.
        for cut in 1..all.len() {
            let url = serve(vec![all[..cut].to_vec(), all[cut..].to_vec()]);
            let (status, data, clean) = collect(&url);
            assert_eq!(status, 200);
            assert!(clean, "cut {cut}");
            let joined: Vec<u8> = data.iter().flat_map(|(b, _)| b.clone()).collect();
            assert_eq!(joined, b"hello world", "cut {cut}");
        }
    }

    #[test]
    fn length_and_close_delimited_bodies() {
        let url = serve(vec![
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nab".to_vec(),
            b"c".to_vec(),
        ]);
        let (_, data, clean) = collect(&url);
        assert!(clean);
        assert_eq!(data, vec![(b"ab".to_vec(), 1), (b"c".to_vec(), 2)]);
        let url = serve(vec![b"HTTP/1.0 200 OK\r\n\r\nxy".to_vec(), b"z".to_vec()]);
        let (_, data, clean) = collect(&url);
        assert!(clean, "close-delimited body ends cleanly at close");
        assert_eq!(data.len(), 2);
        // A chunked body cut off by the server is not clean.
        let url = serve(vec![
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel".to_vec(),
        ]);
        let (_, data, clean) = collect(&url);
        assert!(!clean);
        assert_eq!(data[0].0, b"hel");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let url = serve(vec![b"SSH-2.0-OpenSSH\r\n\r\n".to_vec()]);
        let mut x = get(&url);
        let err = loop {
            match x.poll() {
                Err(e) => break e,
                Ok(Event::Tick) => {}
                Ok(e) => panic!("unexpected {e:?}"),
            }
        };
        assert!(err.to_string().contains("not an HTTP/1.x response"));
        let url = serve(vec![
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n".to_vec(),
        ]);
        let mut x = get(&url);
        let err = loop {
            if let Err(e) = x.poll() {
                break e;
            }
        };
        assert!(err.to_string().contains("bad chunk size"));
    }
}
