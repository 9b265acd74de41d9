// Allocates 1 MB arrays, fills them and keeps them all reachable.
void main()
{
    ubyte[][] keep;
    for (;;)
    {
        auto block = new ubyte[1 << 20];
        block[] = 1;
        keep ~= block;
    }
}
