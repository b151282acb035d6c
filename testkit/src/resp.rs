//! RESP2 over a plain `TcpStream`: one connection per command, which is
//! plenty on loopback and keeps the kit free of a Redis client crate.
use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// One parsed reply. Bulk strings are read as UTF-8 (lossy): weir's keys and
/// every admin reply the kit reads are text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Reply {
    Status(String),
    Error(String),
    Integer(i64),
    Bulk(Option<String>),
    Array(Option<Vec<Reply>>),
}

impl Reply {
    /// The text of a status or bulk reply; empty for anything else.
    pub(crate) fn text(&self) -> &str {
        match self {
            Reply::Status(s) | Reply::Bulk(Some(s)) => s,
            _ => "",
        }
    }

    /// The items of an array reply; empty for anything else.
    pub(crate) fn items(&self) -> &[Reply] {
        match self {
            Reply::Array(Some(items)) => items,
            _ => &[],
        }
    }
}

/// Sends one command to `127.0.0.1:port`; returns the parsed reply (error
/// replies included) and its raw text.
pub(crate) fn request(port: u16, args: &[&str]) -> io::Result<(Reply, String)> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    // MIGRATE is the slowest command the kit sends; it gives up after 5 s.
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut req = format!("*{}\r\n", args.len());
    for arg in args {
        req.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
    }
    stream.write_all(req.as_bytes())?;
    let mut raw = Vec::new();
    let reply = read_reply(&mut BufReader::new(stream), &mut raw)?;
    Ok((reply, String::from_utf8_lossy(&raw).into_owned()))
}

/// Like [`request`], but an error reply becomes an `Err` naming the command
/// and the node.
pub(crate) fn call(port: u16, args: &[&str]) -> io::Result<Reply> {
    match request(port, args)?.0 {
        Reply::Error(message) => Err(io::Error::other(format!("{args:?} on 127.0.0.1:{port}: {message}"))),
        reply => Ok(reply),
    }
}

/// Reads one reply, appending every byte read to `raw`.
fn read_reply(reader: &mut impl BufRead, raw: &mut Vec<u8>) -> io::Result<Reply> {
    let start = raw.len();
    if reader.read_until(b'\n', raw)? == 0 {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the connection closed before a reply"));
    }
    let line = String::from_utf8_lossy(&raw[start..]).trim_end().to_string();
    let (kind, rest) = line.split_at_checked(1).ok_or_else(|| invalid(&line))?;
    let length = || rest.parse::<i64>().map_err(|_| invalid(&line));
    Ok(match kind {
        "+" => Reply::Status(rest.to_string()),
        "-" => Reply::Error(rest.to_string()),
        ":" => Reply::Integer(length()?),
        "$" => match usize::try_from(length()?) {
            Err(_) => Reply::Bulk(None),
            Ok(len) => {
                let mut data = vec![0; len + 2];
                reader.read_exact(&mut data)?;
                raw.extend_from_slice(&data);
                data.truncate(len);
                Reply::Bulk(Some(String::from_utf8_lossy(&data).into_owned()))
            }
        },
        "*" => match usize::try_from(length()?) {
            Err(_) => Reply::Array(None),
            Ok(count) => Reply::Array(Some((0..count).map(|_| read_reply(reader, raw)).collect::<io::Result<_>>()?)),
        },
        _ => return Err(invalid(&line)),
    })
}

fn invalid(line: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("not a RESP2 reply: {line:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_replies_parse_and_keep_their_raw_bytes() {
        let wire = b"*3\r\n$3\r\nfoo\r\n$-1\r\n*2\r\n:7\r\n+OK\r\n";
        let mut raw = Vec::new();
        let reply = read_reply(&mut &wire[..], &mut raw).unwrap();
        let expected = Reply::Array(Some(vec![
            Reply::Bulk(Some("foo".into())),
            Reply::Bulk(None),
            Reply::Array(Some(vec![Reply::Integer(7), Reply::Status("OK".into())])),
        ]));
        assert_eq!(reply, expected);
        assert_eq!(raw, wire);
    }
}
