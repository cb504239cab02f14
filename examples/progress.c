#define _POSIX_C_SOURCE 200809L
#include <time.h>
#include <unistd.h>

#include "progress.h"

double progress_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void progress_init(progress *p, FILE *out, uint64_t every)
{
    p->out = out;
    p->tty = out && isatty(fileno(out));
    p->every = every ? every : 500;
    p->t_start = progress_now();
    p->loss_avg = -1;
}

int progress_train_callback(uint64_t step, uint64_t total, double loss, void *user_data)
{
    progress *p = user_data;
    p->loss_avg = p->loss_avg < 0 ? loss : 0.98 * p->loss_avg + 0.02 * loss;
    if (!p->out)
        return 0;
    if (p->tty) {
        if (step % 25 != 0 && step != total)
            return 0;
        enum { WIDTH = 30 };
        int filled = (int)((double)WIDTH * (double)step / (double)total);
        char bar[WIDTH + 1];
        for (int i = 0; i < WIDTH; i++)
            bar[i] = i < filled ? '#' : '.';
        bar[WIDTH] = '\0';
        fprintf(p->out, "\rtrain [%s] %5llu/%llu  loss %.4f  %.1fs", bar,
                (unsigned long long)step, (unsigned long long)total, p->loss_avg,
                progress_now() - p->t_start);
        if (step == total)
            fputc('\n', p->out);
        fflush(p->out);
    } else if (step % p->every == 0 || step == 1 || step == total) {
        fprintf(p->out, "step %5llu/%llu  loss %.4f\n", (unsigned long long)step,
                (unsigned long long)total, loss);
    }
    return 0;
}
