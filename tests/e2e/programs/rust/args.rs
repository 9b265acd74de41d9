fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    println!("argc={}", args.len());
    for a in &args {
        println!("[{}]", a);
    }
}
