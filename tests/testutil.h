/* Shared helpers for the Check test programs. */
#ifndef SM_TESTUTIL_H
#define SM_TESTUTIL_H

#include <check.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <scorematch.h>

/* Asserts a call's status, showing the library's message when it differs. */
#define ck_assert_status(expr, expected)                                        \
    do {                                                                        \
        sm_status st_ = (expr);                                                 \
        ck_assert_msg(st_ == (expected), "%s returned %d (%s), expected %d; last error: %s", \
                      #expr, (int)st_, sm_strerror(st_), (int)(expected), sm_last_error()); \
    } while (0)

#define ck_assert_ok(expr) ck_assert_status(expr, SM_OK)

/* A 2-D network whose output is the constant c whatever x and σ: every
 * hidden weight and bias 0, the last layer's weights 0 and its bias c, so
 * samplers and likelihoods have closed-form results. Returns the offset of
 * that bias in sm_net_params(). */
static inline size_t sm_test_constant_net(sm_net **net, sm_rng *rng, const float c[2])
{
    ck_assert_ok(sm_net_new(net, 2, 4, 1, rng));
    memset(sm_net_params(*net), 0, sm_net_num_params(*net) * sizeof(float));
    size_t b_off;
    ck_assert_ok(sm_net_layer(*net, 1, NULL, &b_off, NULL, NULL));
    sm_net_params(*net)[b_off] = c[0];
    sm_net_params(*net)[b_off + 1] = c[1];
    return b_off;
}

/* ---- files ---------------------------------------------------------------- */

/* Number of entries in dir whose name contains ".tmp-" (the library's
 * temporary files). */
static inline int sm_test_count_temp_files(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int count = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strstr(e->d_name, ".tmp-"))
            count++;
    closedir(d);
    return count;
}

/* Removes dir and everything under it. */
static inline void sm_test_remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char p[512];
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        int k = snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (k < 0 || (size_t)k >= sizeof p)
            continue;
        struct stat sb;
        if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode))
            sm_test_remove_tree(p);
        else
            unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

/* The bytes of a file (up to 1 MiB), malloc'ed; their number in *len. */
static inline unsigned char *sm_test_read_whole(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    unsigned char *b = malloc(1 << 20);
    ck_assert_ptr_nonnull(b);
    *len = fread(b, 1, 1 << 20, f);
    fclose(f);
    return b;
}

static inline void sm_test_write_whole(const char *path, const void *b, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(b, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

/* Runs call(arg) in a child process that may not make any file larger than
 * limit bytes (RLIMIT_FSIZE, with SIGXFSZ ignored, so that a write past it
 * fails with EFBIG as on a full disk), and returns its status; the child's
 * sm_last_error() goes to msg. The limit never touches the test process. */
static inline sm_status sm_test_with_file_size_limit(sm_status (*call)(void *), void *arg,
                                                     rlim_t limit, char *msg, size_t msg_size)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        struct rlimit rl = {limit, limit};
        signal(SIGXFSZ, SIG_IGN);
        if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
            _exit(100);
        sm_status st = call(arg);
        const char *m = sm_last_error();
        ssize_t w = write(fds[1], m, strlen(m));
        close(fds[1]);
        _exit(w < 0 ? 101 : -(int)st);
    }
    close(fds[1]);
    size_t got = 0;
    ssize_t r;
    while (got + 1 < msg_size && (r = read(fds[0], msg + got, msg_size - 1 - got)) > 0)
        got += (size_t)r;
    msg[got] = '\0';
    close(fds[0]);
    int ws;
    ck_assert_int_eq(waitpid(pid, &ws, 0), pid);
    ck_assert_msg(WIFEXITED(ws) && WEXITSTATUS(ws) < 100, "child failed (wait status %d)", ws);
    return (sm_status)-WEXITSTATUS(ws);
}

/* Runs a suite and returns the process exit code. */
static inline int sm_test_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif
