//! A loopback issuer that answers conditional requests and logs who asked what, when.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::http::{Resp, Server};

/// One request the issuer answered: who asked, when, what, and whether in full.
#[derive(Clone, Debug)]
pub struct Fetch {
    pub peer: IpAddr,
    pub at: Instant,
    pub path: String,
    pub full: bool,
}

/// A document the issuer serves, with its validator.
struct Doc {
    body: String,
    etag: String,
}

/// An issuer serving documents (key sets, deny lists, discovery documents), each with an
/// `ETag` and `Last-Modified`, answering `304` to a request that names the current `ETag`.
pub struct Issuer {
    pub server: Server,
    docs: Arc<Mutex<Vec<(String, Doc)>>>,
    log: Arc<Mutex<Vec<Fetch>>>,
}

impl Issuer {
    /// Serves `documents` (path, body), each with the `ETag` `"<path>1"` until replaced, and
    /// `Cache-Control: max-age` when given.
    pub fn start(max_age: Option<u64>, documents: Vec<(&str, String)>) -> Issuer {
        let docs = Arc::new(Mutex::new(
            documents
                .into_iter()
                .map(|(path, body)| {
                    let etag = format!("\"{path}1\"");
                    (path.to_owned(), Doc { body, etag })
                })
                .collect::<Vec<_>>(),
        ));
        let log = Arc::new(Mutex::new(Vec::new()));
        let (d, l) = (docs.clone(), log.clone());
        let server = Server::start(move |req| {
            let docs = d.lock().unwrap();
            let Some((_, doc)) = docs.iter().find(|(path, _)| *path == req.path) else {
                return Resp::new(404, "");
            };
            let full = req.header("if-none-match") != Some(doc.etag.as_str());
            l.lock().unwrap().push(Fetch {
                peer: req.peer.expect("the peer").ip(),
                at: Instant::now(),
                path: req.path.clone(),
                full,
            });
            let mut r = if full {
                Resp::new(200, doc.body.clone())
            } else {
                Resp::new(304, "")
            };
            r.headers.push(("etag".into(), doc.etag.clone()));
            r.headers.push((
                "last-modified".into(),
                "Sun, 29 Nov 2026 00:00:00 GMT".into(),
            ));
            if let Some(age) = max_age {
                r.headers
                    .push(("cache-control".into(), format!("public, max-age={age}")));
            }
            r
        });
        Issuer { server, docs, log }
    }

    /// Serves `body` at `path` from now on, under a new `ETag`.
    pub fn replace(&self, path: &str, body: String) {
        let mut docs = self.docs.lock().unwrap();
        let doc = &mut docs.iter_mut().find(|(p, _)| p == path).unwrap().1;
        doc.body = body;
        let n: u32 = doc
            .etag
            .trim_matches('"')
            .trim_start_matches(path)
            .parse()
            .unwrap_or(1);
        doc.etag = format!("\"{path}{}\"", n + 1);
    }

    /// The requests for `path` answered so far, in order.
    pub fn fetches(&self, path: &str) -> Vec<Fetch> {
        let log = self.log.lock().unwrap();
        log.iter().filter(|f| f.path == path).cloned().collect()
    }

    /// How many requests for `path` got the whole document (`full`) or a 304.
    pub fn count(&self, path: &str, full: bool) -> usize {
        self.fetches(path).iter().filter(|f| f.full == full).count()
    }
}
