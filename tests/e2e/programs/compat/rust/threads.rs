// std::thread: spawned threads with a channel, Arc<Mutex>, scoped threads; the parallelism
// the standard library reports.
use std::sync::{mpsc, Arc, Mutex};
use std::thread;

fn main() {
    let n: u64 = 1_000_000;
    let t: u64 = 4;
    let total = Arc::new(Mutex::new(0u64));
    let (tx, rx) = mpsc::channel();
    let mut handles = Vec::new();
    for id in 0..t {
        let total = Arc::clone(&total);
        let tx = tx.clone();
        handles.push(thread::spawn(move || {
            let s: u64 = (id..n).step_by(t as usize).sum();
            *total.lock().unwrap() += s;
            tx.send(id).unwrap();
        }));
    }
    drop(tx);
    let mut ids: Vec<u64> = rx.iter().collect();
    ids.sort();
    for h in handles {
        h.join().unwrap();
    }
    let data: Vec<u64> = (0..1000).collect();
    let mut parts = vec![0u64; 4];
    thread::scope(|s| {
        for (chunk, out) in data.chunks(250).zip(parts.iter_mut()) {
            s.spawn(move || *out = chunk.iter().map(|x| x * x).sum());
        }
    });
    println!(
        "available_parallelism {}",
        thread::available_parallelism().map(|n| n.get()).unwrap_or(0)
    );
    println!("ids {:?}", ids);
    println!("sum {}", *total.lock().unwrap());
    println!("squares {}", parts.iter().sum::<u64>());
}
