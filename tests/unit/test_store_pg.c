/* store/: test_store.c's tests on the PostgreSQL back-end (store_pg.c), in a cluster the test
 * starts and stops itself (tests/pgcluster): see test_store.c. */
#define TEST_STORE_PG 1
/* the SQLite-only tests are compiled, not run */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "test_store.c"
