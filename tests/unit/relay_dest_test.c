/*
 * relay_dest_test.c - relay_dest_put_job and relay_dest_take_job, the one
 * enqueue and dequeue of a destination's job queue: FIFO order, the tail
 * and the count kept right, the job unlinked, an empty queue, a queue
 * refilled after emptying.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "relay_smtp.h"

static void test_take(void **state)
{
    static const size_t sizes[] = { 0, 1, 2, 5 };
    struct relay_job jobs[5];

    (void)state;
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        struct relay_dest d;

        memset(&d, 0, sizeof(d));
        memset(jobs, 0, sizeof(jobs));
        for (size_t i = 0; i < sizes[s]; i++)
            relay_dest_put_job(&d, &jobs[i]);
        for (size_t i = 0; i < sizes[s]; i++) {
            struct relay_job *j = relay_dest_take_job(&d);

            assert_ptr_equal(j, &jobs[i]);                  /* first in, first out */
            assert_null(j->next);
            assert_int_equal(d.njobs, sizes[s] - i - 1);
            assert_ptr_equal(d.jobs, i + 1 < sizes[s] ? &jobs[i + 1] : NULL);
            assert_ptr_equal(d.jobs_tail, i + 1 < sizes[s] ? &jobs[sizes[s] - 1] : NULL);
        }
        assert_null(relay_dest_take_job(&d));
        assert_null(d.jobs);
        assert_null(d.jobs_tail);
        assert_int_equal(d.njobs, 0);
        /* emptied, the queue takes jobs again from a clean tail */
        relay_dest_put_job(&d, &jobs[0]);
        assert_ptr_equal(d.jobs, &jobs[0]);
        assert_ptr_equal(relay_dest_take_job(&d), &jobs[0]);
        assert_null(d.jobs_tail);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_take),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
