/* pthreads: workers meet at a barrier (the main thread counts them in /proc/self/status), sum
 * i*i over their slices under a mutex, and one waits on a condition variable for the rest. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NTHREADS 4
#define N        1000000ULL

static pthread_barrier_t barrier;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static unsigned long long total;
static int done;

static void *worker(void *arg)
{
        unsigned long long id = (unsigned long long)(size_t)arg, sum = 0;
        pthread_barrier_wait(&barrier);
        pthread_barrier_wait(&barrier);
        for (unsigned long long i = id; i < N; i += NTHREADS)
                sum += i * i;
        pthread_mutex_lock(&mu);
        total += sum;
        done++;
        pthread_cond_broadcast(&cv);
        pthread_mutex_unlock(&mu);
        return NULL;
}

static int threads_now(void)
{
        FILE *f = fopen("/proc/self/status", "r");
        char line[256];
        int n = -1;
        while (f && fgets(line, sizeof(line), f))
                if (strncmp(line, "Threads:", 8) == 0)
                        n = atoi(line + 8);
        if (f)
                fclose(f);
        return n;
}

int main(void)
{
        pthread_t t[NTHREADS];
        pthread_barrier_init(&barrier, NULL, NTHREADS + 1);
        for (size_t i = 0; i < NTHREADS; i++)
                if (pthread_create(&t[i], NULL, worker, (void *)i) != 0)
                        return 1;
        pthread_barrier_wait(&barrier);
        printf("threads %d\n", threads_now());
        pthread_barrier_wait(&barrier);
        pthread_mutex_lock(&mu);
        while (done < NTHREADS)
                pthread_cond_wait(&cv, &mu);
        pthread_mutex_unlock(&mu);
        for (int i = 0; i < NTHREADS; i++)
                pthread_join(t[i], NULL);
        printf("sum %llu\n", total);
        return 0;
}
