#import <Foundation/Foundation.h>
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
    NSAutoreleasePool *pool = [[NSAutoreleasePool alloc] init];
    printf("%s\n", [[NSString stringWithFormat:@"before %@", @"exit"] UTF8String]);
    [pool drain];
    exit(3);
}
