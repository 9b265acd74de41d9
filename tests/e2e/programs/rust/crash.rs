fn main() {
    println!("about to panic");
    let v: Vec<i32> = Vec::new();
    if v.is_empty() {
        panic!("boom from rust");
    }
}
