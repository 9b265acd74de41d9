/* The Piston v2 dialect (piston.c): what its unit test reaches. */
#ifndef RUNCELL_PROTOCOL_PISTON_H
#define RUNCELL_PROTOCOL_PISTON_H

#include <stdbool.h>

/* node-semver's satisfies() for a plain "X.Y.Z" version and the range forms Piston clients
 * send: "*", "3", "3.11", "3.11.2", "3.x", "^3.1", "~3.11", ">=3 <4", "=3.11.2", "v3",
 * alternatives joined by "||". Hyphen ranges and pre-releases match nothing. */
bool piston_semver_satisfies(const char *version, const char *range);

#endif
