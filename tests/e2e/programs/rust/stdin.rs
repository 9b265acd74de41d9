use std::io::{self, BufRead};

fn main() {
    let stdin = io::stdin();
    let mut n = 0;
    for line in stdin.lock().lines() {
        let line = line.expect("read error");
        n += 1;
        println!("{}:{}", n, line.to_uppercase());
    }
    println!("lines={}", n);
}
