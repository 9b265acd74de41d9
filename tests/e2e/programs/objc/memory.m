#import <Foundation/Foundation.h>
#include <string.h>

/* Allocates 1 MB blocks, fills them and keeps them in an NSMutableArray. */
int main(void)
{
    NSAutoreleasePool *pool = [[NSAutoreleasePool alloc] init];
    NSMutableArray *keep = [NSMutableArray array];
    for (;;) {
        NSMutableData *block = [NSMutableData dataWithLength:1 << 20];
        memset([block mutableBytes], 1, [block length]);
        [keep addObject:block];
    }
    [pool drain];
    return 0;
}
