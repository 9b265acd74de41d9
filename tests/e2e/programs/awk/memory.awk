BEGIN {
    s = sprintf("%1048576s", "")
    for (i = 0; ; i++)
        keep[i] = s i
}
