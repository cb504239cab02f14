/* Whole-file input and output for the CSV reader and writers and the model
 * files: reading only what has an end (regular files), and writing through
 * a temporary file that replaces the target only once it is complete. */
#define _XOPEN_SOURCE 700 /* fsync, O_CLOEXEC, O_DIRECTORY, O_NOCTTY */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h> /* rename, snprintf */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/* What a file that is not a regular file is, for messages. */
static const char *file_kind(mode_t mode)
{
    if (S_ISDIR(mode))
        return "a directory";
    if (S_ISFIFO(mode))
        return "a FIFO or pipe";
    if (S_ISCHR(mode))
        return "a character device";
    if (S_ISBLK(mode))
        return "a block device";
    if (S_ISSOCK(mode))
        return "a socket";
    return "not a regular file";
}

/* Clears O_NONBLOCK, set only so that opening a FIFO cannot block. */
static int clear_nonblock(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    return flags < 0 ? -1 : fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
}

sm_status sm__read_file(const char *path, const char *fn, unsigned char **out, size_t *len_out)
{
    *out = NULL;
    *len_out = 0;
    /* O_NONBLOCK: opening a FIFO without a writer would otherwise wait for
     * one forever; it is refused below like every other special file. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return sm__error(SM_ERR_IO, "%s: cannot open '%s': %s", fn, path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || clear_nonblock(fd) != 0) {
        sm_status st = sm__error(SM_ERR_IO, "%s: cannot read '%s': %s", fn, path,
                                 strerror(errno));
        close(fd);
        return st;
    }
    /* Only a regular file has a known end: a device such as /dev/zero never
     * ends and a pipe may never be written to. */
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return sm__error(SM_ERR_IO, "%s: cannot read '%s': it is %s, not a regular file", fn,
                         path, file_kind(sb.st_mode));
    }
    /* One buffer of the file's size plus one byte to see the end; it grows
     * only if the file grows while being read (or reports size 0, as
     * /proc files do). */
    unsigned char *buf = NULL;
    size_t len = 0, cap = 0, first = 65536;
    if (sb.st_size >= 0 && (uintmax_t)sb.st_size < SIZE_MAX)
        first = (size_t)sb.st_size + 1;
    sm_status st = SM_OK;
    for (;;) {
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : first;
            unsigned char *nb = ncap > cap ? realloc(buf, ncap) : NULL;
            if (!nb) {
                st = sm__error(SM_ERR_NOMEM, "%s: out of memory reading '%s'", fn, path);
                break;
            }
            buf = nb;
            cap = ncap;
        }
        size_t want = cap - len > ((size_t)1 << 30) ? (size_t)1 << 30 : cap - len;
        ssize_t got = read(fd, buf + len, want);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            st = sm__error(SM_ERR_IO, "%s: error reading '%s': %s", fn, path, strerror(errno));
            break;
        }
        if (got == 0)
            break;
        len += (size_t)got;
    }
    close(fd);
    if (st) {
        free(buf);
        return st;
    }
    *out = buf;
    *len_out = len;
    return SM_OK;
}

/* ---- writing ------------------------------------------------------------ */

/* Six name characters from a mix of the process id, the clock, an address
 * and the attempt number (no global state; O_EXCL settles collisions). */
static void temp_suffix(char *s, const void *salt, unsigned attempt)
{
    static const char chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    struct timespec ts = {0, 0};
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t z = (uint64_t)getpid() * 0x9e3779b97f4a7c15u ^ (uint64_t)ts.tv_nsec ^
                 (uint64_t)ts.tv_sec << 30 ^ (uint64_t)(uintptr_t)salt ^
                 (uint64_t)attempt << 48;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    z ^= z >> 31;
    for (int i = 0; i < 6; i++) {
        s[i] = chars[z % (sizeof chars - 1)];
        z /= sizeof chars - 1;
    }
}

/* Flushes the directory holding path so the rename itself is durable; best
 * effort (some file systems refuse fsync on directories). path is a
 * writable copy, cut at its last '/' here, so that no allocation can skip
 * the flush. */
static void sync_parent_dir(char *path)
{
    char *slash = strrchr(path, '/');
    const char *dir = ".";
    if (slash == path) {
        dir = "/";
    } else if (slash) {
        *slash = '\0';
        dir = path;
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

#if defined(__linux__)
#  include <sys/vfs.h>
#  define PROC_FS_MAGIC 0x9fa0 /* linux/magic.h: PROC_SUPER_MAGIC */

/* The directory part of path into dir (len bytes, cut if longer). */
static void dir_of(const char *path, char *dir, size_t len)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, len, ".");
    else if (slash == path)
        snprintf(dir, len, "/");
    else
        snprintf(dir, len, "%.*s", (int)(slash - path), path);
}

/* Whether path leads, through symbolic links, to a link in /proc such as
 * the process's file descriptors (/dev/stdout, /dev/fd/1, /proc/self/fd/1):
 * it then names an open file, such as a shell redirection, to be written
 * in place; replacing the link itself would write nowhere useful (and, for
 * /dev/stdout, break it for every program). */
static int is_descriptor_link(const char *path)
{
    char cur[4096], target[4096], dir[4096];
    if (strlen(path) >= sizeof cur)
        return 0;
    memcpy(cur, path, strlen(path) + 1);
    for (int hop = 0; hop < 16; hop++) {
        struct stat sb;
        if (lstat(cur, &sb) != 0 || !S_ISLNK(sb.st_mode))
            return 0;
        dir_of(cur, dir, sizeof dir);
        struct statfs fs;
        if (statfs(dir, &fs) == 0 && fs.f_type == PROC_FS_MAGIC)
            return 1;
        ssize_t n = readlink(cur, target, sizeof target - 1);
        if (n < 0)
            return 0;
        target[n] = '\0';
        int k = target[0] == '/' ? snprintf(cur, sizeof cur, "%s", target)
                                 : snprintf(cur, sizeof cur, "%s/%s", dir, target);
        if (k < 0 || (size_t)k >= sizeof cur)
            return 0;
    }
    return 0;
}
#else
static int is_descriptor_link(const char *path)
{
    (void)path;
    return 0;
}
#endif

/* Opens path for writing in place when it is an existing special file (a
 * terminal, /dev/null, a pipe) or a link to an open descriptor (see
 * is_descriptor_link()): renaming a temporary over it would replace the
 * device, pipe or link with a plain file. Returns 1 if f is open that way,
 * 0 if path is to be replaced through a temporary (it does not exist, is a
 * regular file, a directory or a dangling link), or -1 with the error
 * set. */
static int open_in_place(sm__outfile *f, const char *path, const char *fn)
{
    struct stat sb;
    if (stat(path, &sb) != 0 || S_ISDIR(sb.st_mode))
        return 0;
    const int descriptor = is_descriptor_link(path);
    if (S_ISREG(sb.st_mode) && !descriptor)
        return 0;
    /* O_NONBLOCK: a FIFO nobody reads is refused (ENXIO) instead of
     * waiting for a reader forever. A redirection to a regular file is
     * truncated, as the shell's ">" does. */
    int fd = open(path, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC |
                            (S_ISREG(sb.st_mode) ? O_TRUNC : 0));
    if (fd < 0) {
        int e = errno;
        sm__error(SM_ERR_IO, "%s: cannot open '%s' (%s) for writing: %s", fn, path,
                  S_ISREG(sb.st_mode) ? "a link to an open file" : file_kind(sb.st_mode),
                  e == ENXIO && S_ISFIFO(sb.st_mode) ? "no process reads it" : strerror(e));
        return -1;
    }
    if (fstat(fd, &sb) != 0 || clear_nonblock(fd) != 0) {
        sm__error(SM_ERR_IO, "%s: cannot write '%s': %s", fn, path, strerror(errno));
        close(fd);
        return -1;
    }
    if (S_ISREG(sb.st_mode) && !descriptor) { /* replaced by a regular file meanwhile */
        close(fd);
        return 0;
    }
    f->fd = fd;
    return 1;
}

sm_status sm__outfile_open(sm__outfile *f, const char *path, const char *fn)
{
    static const char tag[] = ".tmp-XXXXXX";
    f->path = path;
    f->tmp = NULL;
    f->fd = -1;
    f->err = 0;
    size_t plen = strlen(path);
    if (plen == 0)
        return sm__error(SM_ERR_INVALID_ARG, "%s: path is empty", fn);
    int special = open_in_place(f, path, fn);
    if (special)
        return special > 0 ? SM_OK : SM_ERR_IO;
    if (plen > SIZE_MAX - sizeof tag)
        return sm__error(SM_ERR_OVERFLOW, "%s: path too long", fn);
    char *tmp = malloc(plen + sizeof tag);
    if (!tmp)
        return sm__error(SM_ERR_NOMEM, "%s: out of memory", fn);
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, tag, sizeof tag);
    int fd = -1;
    for (unsigned attempt = 0; attempt < 100; attempt++) {
        temp_suffix(tmp + plen + 5, tmp, attempt);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0 || errno != EEXIST)
            break;
    }
    if (fd < 0) {
        sm_status st = sm__error(SM_ERR_IO, "%s: cannot create a temporary file '%s': %s", fn,
                                 tmp, strerror(errno));
        free(tmp);
        return st;
    }
    f->tmp = tmp;
    f->fd = fd;
    return SM_OK;
}

void sm__outfile_write(sm__outfile *f, const void *data, size_t len)
{
    const unsigned char *p = data;
    while (len > 0 && !f->err) {
        size_t chunk = len > ((size_t)1 << 30) ? (size_t)1 << 30 : len;
        ssize_t n = write(f->fd, p, chunk);
        if (n < 0) {
            if (errno != EINTR)
                f->err = errno;
            continue;
        }
        if (n == 0) {
            f->err = EIO;
            break;
        }
        p += n;
        len -= (size_t)n;
    }
}

sm_status sm__outfile_commit(sm__outfile *f, const char *fn)
{
    int err = f->err;
    const char *what = "write";
    /* A file written in place (a device, a pipe, a redirection) has no
     * rename to make durable, and fsync fails on pipes and terminals. */
    if (!err && f->tmp && fsync(f->fd) != 0) {
        err = errno;
        what = "fsync";
    }
    if (close(f->fd) != 0 && !err) {
        err = errno;
        what = "close";
    }
    f->fd = -1;
    if (!err && f->tmp && rename(f->tmp, f->path) != 0) {
        err = errno;
        what = "rename to the target";
    }
    sm_status st = SM_OK;
    if (err && f->tmp) {
        unlink(f->tmp);
        st = sm__error(SM_ERR_IO, "%s: cannot write '%s' (%s of '%s' failed: %s)", fn, f->path,
                       what, f->tmp, strerror(err));
    } else if (err) {
        st = sm__error(SM_ERR_IO, "%s: cannot write '%s' (%s failed: %s)", fn, f->path, what,
                       strerror(err));
    } else if (f->tmp) {
        sync_parent_dir(f->tmp); /* the temporary's name, no longer needed, in the same directory */
    }
    free(f->tmp);
    f->tmp = NULL;
    return st;
}
