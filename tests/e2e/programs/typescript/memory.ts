const keep: Buffer[] = [];
for (;;) {
    keep.push(Buffer.alloc(1024 * 1024, 1));
}
