/* Reading a whole file into memory, for the CSV reader and the model
 * loader. */
#define _POSIX_C_SOURCE 200809L /* fileno */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"

sm_status sm__read_file(const char *path, const char *fn, unsigned char **out, size_t *len_out)
{
    *out = NULL;
    *len_out = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return sm__error(SM_ERR_IO, "%s: cannot open '%s': %s", fn, path, strerror(errno));
    /* A regular file is read into one buffer of its size (plus one byte to
     * see the end); anything else (a pipe) grows as it comes. */
    unsigned char *buf = NULL;
    size_t len = 0, cap = 0, first = 65536;
    struct stat sb;
    if (fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size >= 0 &&
        (uintmax_t)sb.st_size < SIZE_MAX)
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
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f))
                st = sm__error(SM_ERR_IO, "%s: error reading '%s': %s", fn, path, strerror(errno));
            break;
        }
    }
    fclose(f);
    if (st) {
        free(buf);
        return st;
    }
    *out = buf;
    *len_out = len;
    return SM_OK;
}
