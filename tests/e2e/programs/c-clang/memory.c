#include <stdlib.h>
#include <string.h>

/* Allocates 1 MB blocks, fills them and keeps them all on a list. */
struct block {
    struct block *next;
    char bytes[1 << 20];
};

int main(void)
{
    struct block *head = NULL;
    for (;;) {
        struct block *b = malloc(sizeof *b);
        if (!b)
            return 1;
        memset(b->bytes, 1, sizeof b->bytes);
        b->next = head;
        head = b;
    }
}
