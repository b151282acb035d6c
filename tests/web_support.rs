//! Helpers for the dashboard tests: a running `weir web` and a small
//! HTTP/1.1 client over a plain TCP stream (one request per connection).
use crate::util;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::time::Duration;

/// A running `weir web --listen 127.0.0.1:0 <args>`, killed on drop.
pub struct WebProc {
    child: Child,
    /// `127.0.0.1:PORT`
    pub addr: String,
    /// The URL of the dashboard's root, base path included, no trailing slash.
    pub url: String,
}

impl WebProc {
    pub fn start(prefix: &str, args: &[&str]) -> WebProc {
        WebProc::start_cmd(util::weir(prefix), args)
    }

    /// [`WebProc::start`] on the Redis (or Redis Cluster) at `url`.
    pub fn start_at(url: &str, prefix: &str, args: &[&str]) -> WebProc {
        WebProc::start_cmd(util::weir_at(url, prefix), args)
    }

    fn start_cmd(mut cmd: std::process::Command, args: &[&str]) -> WebProc {
        cmd.env_remove("WEIR_WEB_TOKEN").env_remove("DATABASE_URL");
        cmd.arg("web").arg("--listen").arg("127.0.0.1:0").args(args);
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn weir web");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let Some(url) = line.split_whitespace().find(|w| w.starts_with("http://")) else {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("weir web {args:?} did not start: {line:?}\nstderr:\n{}", String::from_utf8_lossy(&out.stderr));
        };
        let url = url.trim_end_matches('/').to_string();
        let addr = url.trim_start_matches("http://").split('/').next().unwrap().to_string();
        WebProc { child, addr, url }
    }

    pub fn get(&self, path: &str, headers: &[(&str, &str)]) -> Resp {
        http(&self.addr, "GET", path, headers, None)
    }

    pub fn post(&self, path: &str, headers: &[(&str, &str)], form: &str) -> Resp {
        http(&self.addr, "POST", path, headers, Some(form))
    }
}

impl Drop for WebProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// `name=value` of a Set-Cookie header.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
            .filter_map(|(_, v)| v.split(';').next())
            .find(|kv| kv.starts_with(&format!("{name}=")))
            .map(str::to_string)
    }

    /// The value of the first hidden `csrf` field.
    pub fn csrf(&self) -> String {
        let at = self.body.find("name=\"csrf\" value=\"").expect("a form with a CSRF token") + 19;
        self.body[at..at + 32].to_string()
    }
}

/// One request on a fresh connection (`Connection: close`).
pub fn http(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: Option<&str>) -> Resp {
    let mut s = TcpStream::connect(addr).expect("connect to weir web");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{b}",
            b.len()
        ));
    } else {
        req.push_str("\r\n");
    }
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines.next().and_then(|l| l.split_whitespace().nth(1)).and_then(|c| c.parse().ok()).unwrap_or(0);
    let headers =
        lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_string(), v.trim().to_string())).collect();
    Resp { status, headers, body: body.to_string() }
}
