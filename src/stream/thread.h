/*
 * A thread boundary in a stream chain: write() copies into a small ring of
 * buffers and returns; a worker thread pushes the buffers into `next`. The
 * stages before and after the boundary then run on two cores (decryption
 * and hashing on one, decompression and what follows on the other).
 *
 * Errors of `next` come back on a later write() or on finish(); after one,
 * the rest of the input is dropped. finish() waits until `next` is finished.
 * free() stops and joins the worker (dropping what was not pushed yet).
 * Memory: EDR_STREAM_THREAD_SLOTS x EDR_STREAM_THREAD_SLOT bytes.
 */
#ifndef EDR_STREAM_THREAD_H
#define EDR_STREAM_THREAD_H

#include "stream/stream.h"

#define EDR_STREAM_THREAD_SLOTS 4
#define EDR_STREAM_THREAD_SLOT (256u << 10)

edr_rc edr_stream_thread_new(struct edr_stream *next, struct edr_stream **out, struct edr_err *err);

#endif
