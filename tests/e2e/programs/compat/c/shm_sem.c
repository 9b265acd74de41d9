/* POSIX shared memory and named semaphores (both live in /dev/shm) shared by forked children. */
#include <fcntl.h>
#include <semaphore.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHILDREN 4
#define ROUNDS   1000

int main(void)
{
        int fd = shm_open("/compat-shm", O_CREAT | O_EXCL | O_RDWR, 0600);
        if (fd < 0 || ftruncate(fd, 4096) < 0) {
                perror("shm_open");
                return 1;
        }
        long *counter = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        sem_t *sem = sem_open("/compat-sem", O_CREAT | O_EXCL, 0600, 1);
        if (counter == MAP_FAILED || sem == SEM_FAILED) {
                perror("mmap/sem_open");
                return 1;
        }
        struct stat st;
        printf("in /dev/shm: %s %s\n", stat("/dev/shm/compat-shm", &st) == 0 ? "shm" : "-",
               stat("/dev/shm/sem.compat-sem", &st) == 0 ? "sem" : "-");
        fflush(stdout);
        for (int c = 0; c < CHILDREN; c++) {
                pid_t pid = fork();
                if (pid < 0)
                        return 1;
                if (pid == 0) {
                        for (int i = 0; i < ROUNDS; i++) {
                                sem_wait(sem);
                                long v = *counter;
                                *counter = v + c + 1;
                                sem_post(sem);
                        }
                        _exit(0);
                }
        }
        int ok = 0, status;
        while (wait(&status) > 0)
                ok += WIFEXITED(status) && WEXITSTATUS(status) == 0;
        printf("children ok %d\n", ok);
        printf("counter %ld\n", *counter);
        sem_close(sem);
        sem_unlink("/compat-sem");
        shm_unlink("/compat-shm");
        printf("after unlink: %s\n",
               stat("/dev/shm/compat-shm", &st) == 0 ? "still there" : "gone");
        return 0;
}
