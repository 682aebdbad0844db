/*
 * relay_qheap.c - the queue manager's heap of waiting messages: a binary
 * min-heap keyed by m->due_ms (when the scheduler should look at the
 * message next), so the earliest is found in O(1) and a message is added,
 * taken or removed in O(log n) - the scheduler never rescans every message.
 *
 * CONTRACT
 *  The heap's array is owned by the heap; the messages are not (the
 *  queue manager's list owns them).  m->heap_i is 1 + the message's index
 *  while it is in the heap, 0 otherwise; push requires 0.  h->cmps counts
 *  key comparisons, so tests can assert the cost of scheduling.  Not
 *  thread-safe: the queue manager's loop only.
 */
#include <stdlib.h>

#include "log.h"
#include "relay_qmgr_int.h"

/* qheap_less - a's key is smaller than b's */

static bool qheap_less(struct qmgr_heap *h, size_t a, size_t b)
{
    h->cmps++;
    return h->v[a]->due_ms < h->v[b]->due_ms;
}

/* qheap_swap - exchange two slots, keeping heap_i right */

static void qheap_swap(struct qmgr_heap *h, size_t a, size_t b)
{
    struct relay_qmsg *t = h->v[a];

    h->v[a] = h->v[b];
    h->v[b] = t;
    h->v[a]->heap_i = a + 1;
    h->v[b]->heap_i = b + 1;
}

/* qheap_up - move slot i up to its place */

static void qheap_up(struct qmgr_heap *h, size_t i)
{
    while (i > 0 && qheap_less(h, i, (i - 1) / 2)) {
        qheap_swap(h, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

/* qheap_down - move slot i down to its place */

static void qheap_down(struct qmgr_heap *h, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, min = i;

        if (l < h->n && qheap_less(h, l, min))
            min = l;
        if (r < h->n && qheap_less(h, r, min))
            min = r;
        if (min == i)
            return;
        qheap_swap(h, i, min);
        i = min;
    }
}

/* qmgr_heap_push - add m (keyed by m->due_ms) */

void qmgr_heap_push(struct qmgr_heap *h, struct relay_qmsg *m)
{
    if (m->heap_i != 0)
        log_panic("qmgr", "message id=%s pushed twice", m->id);
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 64;
        h->v = xrealloc(h->v, h->cap * sizeof(*h->v));
    }
    h->v[h->n] = m;
    m->heap_i = ++h->n;
    qheap_up(h, h->n - 1);
}

/* qmgr_heap_top - the message with the smallest key, or NULL */

struct relay_qmsg *qmgr_heap_top(const struct qmgr_heap *h)
{
    return h->n > 0 ? h->v[0] : NULL;
}

/* qmgr_heap_remove - take m out, wherever it is */

void qmgr_heap_remove(struct qmgr_heap *h, struct relay_qmsg *m)
{
    size_t i = m->heap_i - 1;

    if (m->heap_i == 0 || i >= h->n || h->v[i] != m)
        log_panic("qmgr", "message id=%s is not in the heap", m->id);
    m->heap_i = 0;
    if (i == --h->n)
        return;
    h->v[i] = h->v[h->n];
    h->v[i]->heap_i = i + 1;
    if (i > 0 && qheap_less(h, i, (i - 1) / 2))
        qheap_up(h, i);
    else
        qheap_down(h, i);
}

/* qmgr_heap_pop - take the message with the smallest key, or NULL */

struct relay_qmsg *qmgr_heap_pop(struct qmgr_heap *h)
{
    struct relay_qmsg *m = qmgr_heap_top(h);

    if (m != NULL)
        qmgr_heap_remove(h, m);
    return m;
}

/* qmgr_heap_build - restore the order after keys changed (Floyd, O(n)) */

void qmgr_heap_build(struct qmgr_heap *h)
{
    for (size_t i = h->n / 2; i-- > 0;)
        qheap_down(h, i);
}

/* qmgr_heap_free - release the array (not the messages) */

void qmgr_heap_free(struct qmgr_heap *h)
{
    for (size_t i = 0; i < h->n; i++)
        h->v[i]->heap_i = 0;
    free(h->v);
    h->v = NULL;
    h->n = h->cap = 0;
}
