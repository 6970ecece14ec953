/*
 * Unit tests of src/mvcc/status.c: every number of edr_mvcc_status on the
 * small etcd database of etcd_db.h, the hash recomputed from its definition.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bolt/bolt.h"
#include "mvcc/mvcc.h"
#include "../support.h"
#include "etcd_db.h"

static void
test_status(void **state)
{
    struct edr_bolt *b;
    struct edr_err err;
    struct edr_mvcc_status st;
    uint32_t crc;

    (void)state;
    crc = write_etcd_db(1);
    assert_int_equal(edr_bolt_open(tu_path, &b, &err), EDR_OK);
    assert_int_equal(edr_mvcc_status(b, &st, &err), EDR_OK);
    assert_int_equal(st.hash, crc);
    assert_int_equal(st.revision, 12);
    assert_int_equal(st.total_keys, 2 + 1 + 12 + 1 + 2 + 1 + 3);
    assert_int_equal(st.total_size, 4 * 4096);
    assert_int_equal(st.db_size_in_use, 4 * 4096);
    assert_int_equal(st.live_keys, 8); /* /a and 7 registry keys */
    assert_int_equal(st.compact_revision, 3);
    assert_int_equal(st.scheduled_compact_revision, 3);
    assert_int_equal(st.consistent_index, 16);
    assert_int_equal(st.has_term, 0);
    assert_int_equal(st.leases, 1);
    assert_int_equal(st.alarms, 0);
    assert_string_equal(st.cluster_version, "3.4.0");
    assert_int_equal(st.auth_enabled, 1);
    assert_string_equal(
        st.members_json,
        "[{\"id\":225216300757239434,\"peerURLs\":[\"http://127.0.0.1:28101\"],\"name\":\"src\"},"
        "{\"id\":16932946551625082840,\"peerURLs\":[\"http://127.0.0.1:28198\"],"
        "\"isLearner\":true}]");
    edr_mvcc_status_release(&st);
    edr_mvcc_status_release(&st); /* twice is harmless */
    assert_int_equal(edr_mvcc_check(b, &err), EDR_OK);
    edr_bolt_close(b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_status, tu_setup_file, tu_teardown_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
