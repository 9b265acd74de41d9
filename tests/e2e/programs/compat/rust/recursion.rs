// Deep recursion on a thread with a 256 MiB stack (touched only as deep as it goes).
use std::thread;

fn down(n: u64) -> u64 {
    let pad = [n as u8; 64];
    if n == 0 {
        return 0;
    }
    let r = down(n - 1);
    r + unsafe { std::ptr::read_volatile(&pad[(n % 64) as usize]) } as u64
}

fn main() {
    let depth: u64 = std::env::args().nth(1).unwrap().parse().unwrap();
    let h = thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || down(depth))
        .unwrap();
    println!("depth {} sum {}", depth, h.join().unwrap());
}
