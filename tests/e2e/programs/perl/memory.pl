my @keep;
while (1) {
    push @keep, "x" x (1024 * 1024);
}
