#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "carprice/buf.h"

static void append_grows_and_terminates(void **state)
{
    (void)state;
    cp_buf_t b;
    cp_buf_init(&b, 1 << 20);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(cp_buf_append(&b, "abc", 3), 0);
    assert_int_equal(b.len, 3000);
    assert_int_equal(b.data[3000], '\0');
    assert_memory_equal(b.data + 2997, "abc", 3);
    cp_buf_free(&b);
}

static void limit_is_enforced_and_buffer_kept(void **state)
{
    (void)state;
    cp_buf_t b;
    cp_buf_init(&b, 10);
    assert_int_equal(cp_buf_append(&b, "0123456789", 10), 0);
    assert_int_equal(cp_buf_append(&b, "x", 1), -1);
    assert_int_equal(b.len, 10);
    assert_string_equal(b.data, "0123456789");
    assert_int_equal(cp_buf_printf(&b, "%d", 1), -1);
    cp_buf_free(&b);
}

static void printf_appends(void **state)
{
    (void)state;
    cp_buf_t b;
    cp_buf_init(&b, 100);
    assert_int_equal(cp_buf_printf(&b, "%s=%d", "a", 42), 0);
    assert_int_equal(cp_buf_printf(&b, ",%s", "b"), 0);
    assert_string_equal(b.data, "a=42,b");
    char *s = cp_buf_steal(&b);
    assert_string_equal(s, "a=42,b");
    assert_null(b.data);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(append_grows_and_terminates),
        cmocka_unit_test(limit_is_enforced_and_buffer_kept),
        cmocka_unit_test(printf_appends),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
