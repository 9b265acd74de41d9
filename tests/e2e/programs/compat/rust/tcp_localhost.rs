// A TCP server and client in one process over "localhost" (resolved by getaddrinfo).
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::thread;

fn main() {
    let addrs: BTreeSet<String> = "localhost:80"
        .to_socket_addrs()
        .unwrap()
        .map(|a| a.ip().to_string())
        .collect();
    println!("localhost {:?}", addrs);
    let listener = TcpListener::bind("localhost:0").unwrap();
    let addr = listener.local_addr().unwrap();
    println!("loopback {}", addr.ip().is_loopback());
    let server = thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(conn.try_clone().unwrap());
        let mut w = conn;
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap() > 0 {
            w.write_all(line.to_uppercase().as_bytes()).unwrap();
            line.clear();
        }
    });
    let mut c = TcpStream::connect(addr).unwrap();
    let mut r = BufReader::new(c.try_clone().unwrap());
    for word in ["alpha", "beta", "gamma"] {
        writeln!(c, "{} over tcp", word).unwrap();
        let mut got = String::new();
        r.read_line(&mut got).unwrap();
        print!("{}", got);
    }
    c.shutdown(std::net::Shutdown::Write).unwrap();
    server.join().unwrap();
}
