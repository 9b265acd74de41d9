// Allocates and touches 1 MB at a time, keeping every block, without end.
fn main() {
    let mut blocks: Vec<Vec<u8>> = Vec::new();
    loop {
        blocks.push(vec![1u8; 1 << 20]);
    }
}
