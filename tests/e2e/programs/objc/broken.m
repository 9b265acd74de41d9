#import <Foundation/Foundation.h>

int main(void)
{
    NSString *s = [undeclared_variable_xyz description];
    return (int)[s length];
}
