fn main() {
    println!("Hello from rust");
}
