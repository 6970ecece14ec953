/*
 * Arrays that grow by doubling (the bbolt writer's nodes, the stream
 * capture's tables, the mvcc summaries).
 */
#ifndef EDR_COMMON_GROW_H
#define EDR_COMMON_GROW_H

#include <stdint.h>
#include <stdlib.h>

/* Makes *pp (an array of *cap elements of elsize bytes; pp is the address
 * of the array pointer) hold at least `need` elements. 0, or -1 when out of
 * memory (the array is then unchanged). */
static inline int
edr_grow(void *pp, size_t *cap, size_t need, size_t elsize)
{
    void **p = pp;
    size_t n = *cap ? *cap : 16;
    void *np;

    if (need <= *cap)
        return 0;
    while (n < need) {
        if (n > SIZE_MAX / 2)
            return -1;
        n *= 2;
    }
    if (n > SIZE_MAX / elsize || (np = realloc(*p, n * elsize)) == NULL)
        return -1;
    *p = np;
    *cap = n;
    return 0;
}

#endif
