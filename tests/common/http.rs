//! A loopback HTTP/1.1 server and client on std alone: enough for JWKS, an upstream and Envoy.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Req {
    /// The client's address: which of several Envoys asked, when each binds its own.
    pub peer: Option<std::net::SocketAddr>,
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
}

impl Req {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> Resp {
        Resp {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// How a server sends a response: whole, or cut short to play a server that stalls or drops
/// the connection part-way through the body.
#[derive(Debug, Clone)]
pub enum Answer {
    Whole(Resp),
    /// The head (with the whole body's content-length) and the first `after` bytes of the
    /// body; then nothing more for `hang` (zero: at once), and the connection is closed.
    Cut {
        resp: Resp,
        after: usize,
        hang: Duration,
    },
}

type Handler = Arc<dyn Fn(&Req) -> Answer + Send + Sync>;

/// A server on a fixed loopback port that can be stopped and started again, to play a service
/// that goes down and comes back.
pub struct Server {
    pub port: u16,
    handler: Handler,
    hits: Arc<AtomicUsize>,
    running: Option<(Arc<AtomicBool>, thread::JoinHandle<()>)>,
}

impl Server {
    pub fn start(handler: impl Fn(&Req) -> Resp + Send + Sync + 'static) -> Server {
        Server::start_answering(move |req| Answer::Whole(handler(req)))
    }

    /// A server whose handler also says how the response goes out.
    pub fn start_answering(handler: impl Fn(&Req) -> Answer + Send + Sync + 'static) -> Server {
        // Bound at once and held: a port looked up free and bound later can be taken in
        // between by another test running beside this one (seen: AddrInUse under load).
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a server port");
        let mut s = Server {
            port: listener.local_addr().expect("the server's port").port(),
            handler: Arc::new(handler),
            hits: Arc::default(),
            running: None,
        };
        s.listen(listener);
        s
    }

    /// A server that is not running yet, on a port reserved for it.
    pub fn down(handler: impl Fn(&Req) -> Resp + Send + Sync + 'static) -> Server {
        Server::down_answering(move |req| Answer::Whole(handler(req)))
    }

    /// [`Server::down`] with a handler that also says how the response goes out.
    pub fn down_answering(handler: impl Fn(&Req) -> Answer + Send + Sync + 'static) -> Server {
        Server {
            port: free_port(),
            handler: Arc::new(handler),
            hits: Arc::default(),
            running: None,
        }
    }

    /// Requests answered so far.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    pub fn up(&mut self) {
        if self.running.is_some() {
            return;
        }
        let listener = TcpListener::bind(("127.0.0.1", self.port)).expect("bind the server port");
        self.listen(listener);
    }

    fn listen(&mut self, listener: TcpListener) {
        let stop = Arc::new(AtomicBool::new(false));
        let (handler, hits, flag) = (self.handler.clone(), self.hits.clone(), stop.clone());
        let join = thread::spawn(move || {
            for conn in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (handler, hits) = (handler.clone(), hits.clone());
                thread::spawn(move || serve(conn, &*handler, &hits));
            }
        });
        self.running = Some((stop, join));
    }

    /// Stops listening: connections are refused until `up`.
    pub fn stop(&mut self) {
        if let Some((stop, join)) = self.running.take() {
            stop.store(true, Ordering::SeqCst);
            let _ = TcpStream::connect(("127.0.0.1", self.port));
            let _ = join.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

fn serve(conn: TcpStream, handler: &(dyn Fn(&Req) -> Answer + Send + Sync), hits: &AtomicUsize) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(conn.try_clone().expect("clone"));
    let Some((mut req, body_len)) = read_head(&mut reader) else {
        return;
    };
    req.peer = conn.peer_addr().ok();
    let mut body = vec![0; body_len];
    let _ = reader.read_exact(&mut body);
    hits.fetch_add(1, Ordering::SeqCst);
    let (resp, cut) = match handler(&req) {
        Answer::Whole(resp) => (resp, None),
        Answer::Cut { resp, after, hang } => (resp, Some((after, hang))),
    };
    let mut out = format!(
        "HTTP/1.1 {} X\r\ncontent-length: {}\r\nconnection: close\r\n",
        resp.status,
        resp.body.len()
    );
    for (k, v) in &resp.headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    let mut conn = conn;
    let _ = conn.write_all(out.as_bytes());
    match cut {
        None => {
            let _ = conn.write_all(&resp.body);
        }
        Some((after, hang)) => {
            let _ = conn.write_all(&resp.body[..after.min(resp.body.len())]);
            let _ = conn.flush();
            thread::sleep(hang);
        }
    }
    let _ = conn.shutdown(Shutdown::Both);
}

fn read_head(reader: &mut impl BufRead) -> Option<(Req, usize)> {
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_owned(), parts.next()?.to_owned());
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
    }
    let req = Req {
        peer: None,
        method,
        path,
        headers,
    };
    let len = req
        .header("content-length")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    Some((req, len))
}

/// One request over a fresh connection; an I/O failure fails the test.
pub fn get(port: u16, path: &str, headers: &[(&str, &str)]) -> Resp {
    request(port, "GET", path, headers).unwrap_or_else(|e| panic!("GET {path} on {port}: {e}"))
}

/// One request, with I/O failures returned (for polling a server that may not be up).
pub fn try_get(port: u16, path: &str) -> Option<Resp> {
    request(port, "GET", path, &[]).ok()
}

pub fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> std::io::Result<Resp> {
    let mut conn = TcpStream::connect(("127.0.0.1", port))?;
    conn.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut out =
        format!("{method} {path} HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\nconnection: close\r\n");
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    conn.write_all(out.as_bytes())?;
    let mut reader = BufReader::new(conn);
    let mut status_line = String::new();
    reader.read_line(&mut status_line)?;
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 {
            break;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    // Read by content-length: waiting for the close would wait out Envoy's delayed close.
    let resp = Resp {
        status,
        headers,
        body: Vec::new(),
    };
    let body = match resp
        .header("content-length")
        .and_then(|l| l.parse::<usize>().ok())
    {
        Some(len) => {
            let mut body = vec![0; len];
            reader.read_exact(&mut body)?;
            body
        }
        None => {
            let mut body = Vec::new();
            reader.read_to_end(&mut body)?;
            body
        }
    };
    Ok(Resp { body, ..resp })
}

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `n` different ports nothing listens on now. [`free_port`] called `n` times may hand out
/// the same port twice: the system may reuse one as soon as it is let go.
pub fn free_ports(n: usize) -> Vec<u16> {
    let held: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    held.iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

/// Waits until something accepts connections on `port`, or `timeout` passes.
pub fn wait_for_port(port: u16, timeout: Duration) -> bool {
    let deadline = std::time::Instant::now() + timeout;
    while std::time::Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        thread::sleep(Duration::from_millis(20));
    }
    false
}

/// A shared, swappable answer for a server's handler.
pub fn swappable(
    initial: Resp,
) -> (
    Arc<Mutex<Resp>>,
    impl Fn(&Req) -> Resp + Send + Sync + 'static,
) {
    let cell = Arc::new(Mutex::new(initial));
    let c = cell.clone();
    (cell, move |_: &Req| c.lock().unwrap().clone())
}

/// An upstream that answers 200 with what reached it: `{"path": …, "headers": {name: value}}`
/// (a repeated header's values joined by `,`, as HTTP allows).
pub fn echo() -> Server {
    Server::start(|req| {
        let mut headers = serde_json::Map::new();
        for (k, v) in &req.headers {
            let joined = match headers.get(k).and_then(|old| old.as_str()) {
                Some(old) => format!("{old},{v}"),
                None => v.clone(),
            };
            headers.insert(k.clone(), serde_json::Value::String(joined));
        }
        Resp::new(
            200,
            serde_json::json!({"path": req.path, "headers": headers}).to_string(),
        )
    })
}
