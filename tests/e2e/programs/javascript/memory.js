// Allocates and touches 1 MB at a time (outside V8's heap), keeping every block, without end.
const blocks = [];
for (;;) {
    blocks.push(Buffer.alloc(1 << 20, 1));
}
