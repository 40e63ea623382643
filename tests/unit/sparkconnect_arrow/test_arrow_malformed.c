/* The Arrow reader on hostile input: every prefix of valid streams, byte
 * corruption at every offset, and hand-built messages that break one rule
 * each. Every case must end in a clean error (or a valid result), never a
 * crash, read out of bounds or leak; run it under the sanitizer build. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <time.h>

#include "arrow_internal.h"
#include "arrow_test_util.h"
#include "sparkconnect/result.h"

static const char *const valid_fixtures[] = {
    "all_types.arrows",   "all_types_legacy.arrows", "other_types.arrows",
    "unsupported.arrows", "empty_batch.arrows",      "schema_only.arrows",
};
#define NFIXTURES (sizeof valid_fixtures / sizeof valid_fixtures[0])

/* Reads every cell through every getter; a decoded result must be safe to read. */
static void read_everything(const sc_result_t *r)
{
    char buf[128];
    for (size_t row = 0; row < sc_result_num_rows(r); row++) {
        for (size_t c = 0; c < sc_result_num_cols(r); c++) {
            bool bv;
            int64_t iv;
            double dv;
            const char *sp;
            const uint8_t *bp;
            size_t len;
            int32_t days;
            sc_decimal_t dec;
            (void)sc_result_is_null(r, row, c);
            (void)sc_result_format_value(r, row, c, buf, sizeof buf, NULL);
            (void)sc_result_get_bool(r, row, c, &bv, NULL);
            (void)sc_result_get_int64(r, row, c, &iv, NULL);
            (void)sc_result_get_double(r, row, c, &dv, NULL);
            (void)sc_result_get_string(r, row, c, &sp, &len, NULL);
            (void)sc_result_get_binary(r, row, c, &bp, &len, NULL);
            (void)sc_result_get_date(r, row, c, &days, NULL);
            (void)sc_result_get_timestamp(r, row, c, &iv, NULL);
            (void)sc_result_get_decimal(r, row, c, &dec, NULL);
            (void)sc_result_get_decimal_str(r, row, c, buf, sizeof buf, NULL);
        }
    }
}

/* Appends data to a fresh result and checks the all-or-nothing contract. */
static sc_code_t try_append(const uint8_t *data, size_t len, sc_error_t *err)
{
    sc_result_t *r = sc_result_new();
    assert_non_null(r);
    sc_code_t rc = sc_result_append_ipc(r, data, len, err);
    if (rc == SC_OK) {
        read_everything(r);
    } else {
        assert_int_equal(sc_result_num_cols(r), 0);
        assert_int_equal(sc_result_num_rows(r), 0);
        assert_int_equal(sc_result_memory_bytes(r), 0);
        assert_true(sc_error_message(err)[0] != '\0');
    }
    sc_result_destroy(r);
    return rc;
}

/* Offsets where a message ends: truncating there leaves a valid stream. */
static bool at_message_boundary(const bytes_t *b, size_t len)
{
    size_t p = 0;
    while (p < b->n) {
        if (p == len)
            return true;
        uint32_t w = bt_get32(b, p);
        size_t prefix = 4;
        if (w == 0xFFFFFFFFu) {
            w = bt_get32(b, p + 4);
            prefix = 8;
        }
        if (w == 0)
            return false; /* the end-of-stream marker: cut inside it or not at all */
        /* bodyLength is the Message's field 3; the fixtures' vtables are standard. */
        const uint8_t *meta = b->p + p + prefix;
        size_t root = bt_get32(b, p + prefix);
        int32_t soff = (int32_t)bt_get32(b, p + prefix + root);
        size_t vt = root - (size_t)soff;
        size_t vt_len = meta[vt] | meta[vt + 1] << 8;
        int64_t body = 0;
        if (vt_len > 10) {
            size_t off = meta[vt + 10] | meta[vt + 11] << 8;
            if (off)
                memcpy(&body, meta + root + off, 8);
        }
        p += prefix + w + (size_t)body;
    }
    return false;
}

static void truncated_at_every_offset(void **state)
{
    (void)state;
    sc_error_t *err = sc_error_new();
    for (size_t f = 0; f < NFIXTURES; f++) {
        bytes_t b = load_fixture(valid_fixtures[f]);
        size_t ok = 0;
        for (size_t len = 0; len < b.n; len++) {
            /* A copy of exactly len bytes, so ASan sees any read past it. */
            uint8_t *copy = malloc(len ? len : 1);
            memcpy(copy, b.p, len);
            sc_code_t rc = try_append(copy, len, err);
            free(copy);
            bool boundary = len > 0 && at_message_boundary(&b, len);
            if (boundary != (rc == SC_OK))
                fail_msg("%s cut at %zu of %zu: %s (%s)", valid_fixtures[f], len, b.n,
                         sc_code_name(rc), sc_error_message(err));
            if (rc != SC_OK)
                assert_int_equal(rc, SC_ERR_PROTOCOL);
            ok += rc == SC_OK;
        }
        assert_true(ok >= 1); /* at least the schema-only prefix */
        bt_free(&b);
    }
    sc_error_destroy(err);
}

static void corrupted_at_every_offset(void **state)
{
    (void)state;
    static const int mutations[] = {0x00, 0xFF, 0x7F, 0x80, -1, -2, -3};
    sc_error_t *err = sc_error_new();
    size_t runs = 0, decoded = 0;
    for (size_t f = 0; f < NFIXTURES; f++) {
        bytes_t b = load_fixture(valid_fixtures[f]);
        uint8_t *copy = malloc(b.n);
        for (size_t i = 0; i < b.n; i++) {
            for (size_t m = 0; m < sizeof mutations / sizeof mutations[0]; m++) {
                memcpy(copy, b.p, b.n);
                int mu = mutations[m];
                copy[i] = mu >= 0 ? (uint8_t)mu : (uint8_t)(copy[i] ^ (1u << (-mu * 3 - 1)));
                sc_code_t rc = try_append(copy, b.n, err);
                runs++;
                decoded += rc == SC_OK;
                assert_true(rc == SC_OK || rc == SC_ERR_PROTOCOL || rc == SC_ERR_UNSUPPORTED ||
                            rc == SC_ERR_LIMIT);
            }
        }
        free(copy);
        bt_free(&b);
    }
    print_message("%zu corrupted streams, %zu still decoded\n", runs, decoded);
    sc_error_destroy(err);
}

/* ------------------------------------------------- a hand-built valid stream */

/* Columns i: int32 [1, NULL, 3] and s: utf8 ["ab", "", "cde"]. */
typedef struct {
    tfield_t fields[2];
    int64_t nodes[4];
    int64_t buffers[10];
    uint8_t body[48];
    tbatch_t batch;
    int schema_version;
    int endianness;
} base_t;

static void base_init(base_t *b)
{
    memset(b, 0, sizeof *b);
    b->fields[0] = (tfield_t){.name = "i", .type = AT_INT, .p0 = 32, .p1 = 1};
    b->fields[1] = (tfield_t){.name = "s", .type = AT_UTF8};
    const int64_t nodes[] = {3, 1, 3, 0};
    const int64_t buffers[] = {0, 1, 8, 12, 24, 0, 24, 16, 40, 5};
    memcpy(b->nodes, nodes, sizeof nodes);
    memcpy(b->buffers, buffers, sizeof buffers);
    b->body[0] = 0x05; /* rows 0 and 2 valid */
    b->body[8] = 1;
    b->body[16] = 3;
    b->body[24 + 4] = 2; /* offsets 0, 2, 2, 5 */
    b->body[24 + 8] = 2;
    b->body[24 + 12] = 5;
    memcpy(b->body + 40, "abcde", 5);
    b->batch = (tbatch_t){.length = 3,
                          .nodes = b->nodes,
                          .nnodes = 2,
                          .buffers = b->buffers,
                          .nbuffers = 5,
                          .body = b->body,
                          .body_len = sizeof b->body,
                          .declared_body_len = -1,
                          .compression = -1};
    b->schema_version = 4;
}

static bytes_t base_emit(const base_t *b)
{
    bytes_t s = {0};
    tw_schema_ex(&s, b->fields, 2, b->schema_version, b->endianness);
    tw_batch(&s, &b->batch);
    tw_eos(&s);
    return s;
}

/* Expects appending s to fail with `code` and a message containing `frag`. */
static void expect_failure(bytes_t *s, sc_code_t code, const char *frag)
{
    sc_error_t *err = sc_error_new();
    sc_code_t rc = try_append(s->p, s->n, err);
    if (rc != code || !strstr(sc_error_message(err), frag))
        fail_msg("want %s '%s', got %s '%s'", sc_code_name(code), frag, sc_code_name(rc),
                 sc_error_message(err));
    sc_error_destroy(err);
    bt_free(s);
}

static void hand_built_stream_decodes(void **state)
{
    (void)state;
    base_t b;
    base_init(&b);
    bytes_t s = base_emit(&b);
    sc_result_t *r = sc_result_new();
    assert_int_equal(sc_result_append_ipc(r, s.p, s.n, NULL), SC_OK);
    assert_int_equal(sc_result_num_rows(r), 3);
    char buf[32];
    static const char *const want[3][2] = {{"1", "ab"}, {"NULL", ""}, {"3", "cde"}};
    for (size_t row = 0; row < 3; row++)
        for (size_t c = 0; c < 2; c++) {
            assert_int_equal(sc_result_format_value(r, row, c, buf, sizeof buf, NULL), SC_OK);
            assert_string_equal(buf, want[row][c]);
        }
    sc_result_destroy(r);
    bt_free(&s);
}

static void broken_record_batches(void **state)
{
    (void)state;
    base_t b;
#define CASE(code, frag, ...)                                                                      \
    do {                                                                                           \
        base_init(&b);                                                                             \
        __VA_ARGS__;                                                                               \
        bytes_t s_ = base_emit(&b);                                                                \
        expect_failure(&s_, code, frag);                                                           \
    } while (0)
    CASE(SC_ERR_PROTOCOL, "values in a batch of 3 rows", b.nodes[0] = 2);
    CASE(SC_ERR_PROTOCOL, "null count", b.nodes[1] = 4);
    CASE(SC_ERR_PROTOCOL, "null count", b.nodes[1] = -1);
    CASE(SC_ERR_PROTOCOL, "outside the 48-byte message body", b.buffers[2] = 40);
    CASE(SC_ERR_PROTOCOL, "outside", b.buffers[3] = -1);
    CASE(SC_ERR_PROTOCOL, "outside", b.buffers[0] = -8);
    CASE(SC_ERR_PROTOCOL, "outside", b.buffers[9] = INT64_MAX);
    CASE(SC_ERR_PROTOCOL, "outside", b.buffers[8] = INT64_MAX);
    CASE(SC_ERR_PROTOCOL, "validity bitmap", b.buffers[1] = 0);
    CASE(SC_ERR_PROTOCOL, "too short", b.buffers[3] = 8);
    CASE(SC_ERR_PROTOCOL, "too short", b.buffers[7] = 12);
    CASE(SC_ERR_PROTOCOL, "decrease", b.body[24 + 4] = 3);
    CASE(SC_ERR_PROTOCOL, "refers to 6 bytes", b.body[24 + 12] = 6);
    CASE(SC_ERR_PROTOCOL, "negative first offset", memset(b.body + 24, 0xFF, 4));
    CASE(SC_ERR_PROTOCOL, "negative row count", b.batch.length = -1);
    CASE(SC_ERR_PROTOCOL, "values in a batch", b.batch.length = INT64_MAX);
    CASE(SC_ERR_PROTOCOL, "1 field nodes", b.batch.nnodes = 1);
    CASE(SC_ERR_PROTOCOL, "5 buffers; its schema needs 2 and 2", b.batch.nbuffers = 5;
         b.fields[1].type = AT_NULL);
    CASE(SC_ERR_UNSUPPORTED, "compressed (LZ4_FRAME)", b.batch.compression = 0);
    CASE(SC_ERR_PROTOCOL, "claims a body", b.batch.declared_body_len = (int64_t)1 << 40);
    CASE(SC_ERR_PROTOCOL, "claims a body", b.batch.declared_body_len = -5);
    CASE(SC_ERR_UNSUPPORTED, "V3", b.batch.version = 2);
    CASE(SC_ERR_UNSUPPORTED, "V3", b.schema_version = 2);
    CASE(SC_ERR_UNSUPPORTED, "V6", b.schema_version = 5);
    CASE(SC_ERR_UNSUPPORTED, "big-endian", b.endianness = 1);
    CASE(SC_ERR_UNSUPPORTED, "'s' is dictionary-encoded", b.fields[1].dictionary = true);
    CASE(SC_ERR_UNSUPPORTED, "unknown Arrow type id 99", b.fields[1].type = 99);
    CASE(SC_ERR_UNSUPPORTED, "unknown Arrow type id 0", b.fields[1].type = 0);
    CASE(SC_ERR_UNSUPPORTED, "binary_view", b.fields[0].type = AT_BINARY_VIEW);
#undef CASE

    /* A type table may be absent: Int then reads as its defaults (int0),
     * which is not a width we decode. */
    base_init(&b);
    b.fields[0].no_type_table = true;
    bytes_t s = base_emit(&b);
    sc_result_t *r = sc_result_new();
    assert_int_equal(sc_result_append_ipc(r, s.p, s.n, NULL), SC_OK);
    assert_int_equal(sc_result_col_type(r, 0), SC_TYPE_UNSUPPORTED);
    assert_string_equal(sc_result_col_arrow_type(r, 0), "uint0");
    sc_result_destroy(r);
    bt_free(&s);
}

static void broken_framing(void **state)
{
    (void)state;
    base_t b;
    base_init(&b);
    bytes_t good = base_emit(&b);
    bytes_t s = {0};

    expect_failure(&s, SC_ERR_PROTOCOL, "empty");
    bt_put(&s, "\xff\xff\xff", 3);
    expect_failure(&s, SC_ERR_PROTOCOL, "truncated");
    bt_put(&s, "\xff\xff\xff\xff\x01", 5);
    expect_failure(&s, SC_ERR_PROTOCOL, "truncated");
    tw_eos(&s);
    expect_failure(&s, SC_ERR_PROTOCOL, "no schema message");
    bt_le(&s, 0, 4); /* legacy end-of-stream */
    expect_failure(&s, SC_ERR_PROTOCOL, "no schema message");
    bt_put(&s, "\xff\xff\xff\xff\xf0\xff\xff\x7f", 8);
    bt_put(&s, NULL, 64);
    expect_failure(&s, SC_ERR_PROTOCOL, "claims 2147483632 bytes of metadata");
    bt_put(&s, "\xff\xff\xff\xff\x00\x00\x00\x80", 8);
    bt_put(&s, NULL, 64);
    expect_failure(&s, SC_ERR_PROTOCOL, "bytes of metadata");
    bt_put(&s, "\x10\x00\x00\x00", 4); /* legacy length, then garbage */
    bt_put(&s, NULL, 16);
    expect_failure(&s, SC_ERR_PROTOCOL, "malformed metadata");

    /* Trailing bytes after the end-of-stream marker. */
    bt_put(&s, good.p, good.n);
    bt_put(&s, "\0", 1);
    expect_failure(&s, SC_ERR_PROTOCOL, "after its end-of-stream marker");

    /* A record batch before any schema. */
    tw_batch(&s, &b.batch);
    expect_failure(&s, SC_ERR_PROTOCOL, "not a schema");

    /* A second schema inside one stream. */
    tw_schema(&s, b.fields, 2);
    tw_schema(&s, b.fields, 2);
    expect_failure(&s, SC_ERR_PROTOCOL, "second schema");

    /* Message types we do not handle. */
    for (unsigned type = 2; type <= 7; type++) {
        if (type == 3)
            continue;
        tw_schema(&s, b.fields, 2);
        tw_empty_message(&s, type);
        expect_failure(&s, type == 2 ? SC_ERR_UNSUPPORTED : SC_ERR_UNSUPPORTED,
                       type == 2 ? "dictionary batch" : "has type");
    }

    /* A good batch followed by a bad one: nothing is kept. */
    sc_result_t *r = sc_result_new();
    assert_int_equal(sc_result_append_ipc(r, good.p, good.n, NULL), SC_OK);
    size_t bytes = sc_result_memory_bytes(r);
    tw_schema(&s, b.fields, 2);
    tw_batch(&s, &b.batch);
    b.nodes[0] = 7;
    tw_batch(&s, &b.batch);
    assert_int_equal(sc_result_append_ipc(r, s.p, s.n, NULL), SC_ERR_PROTOCOL);
    assert_int_equal(sc_result_num_rows(r), 3);
    assert_int_equal(sc_result_memory_bytes(r), bytes);
    sc_result_destroy(r);
    bt_free(&s);
    bt_free(&good);
}

/* ------------------------------------------ corrupt FlatBuffers, one by one */

/* Metadata of a schema message with one int32 column, with the positions of
 * the objects a test may corrupt. */
typedef struct {
    size_t msg, header_slot, schema, fields_vec, field, name, type, children;
} meta_pos_t;

static bytes_t schema_meta(meta_pos_t *p)
{
    bytes_t m = {0};
    p->header_slot = tw_message(&m, 4, 1, 0);
    p->msg = bt_get32(&m, 0);
    p->schema = fbw_table(&m, 2, 2);
    fbw_ref_at(&m, p->header_slot, p->schema);
    p->fields_vec = fbw_vector(&m, 1, 4, NULL);
    fbw_ref(&m, p->schema, 1, p->fields_vec);
    p->field = fbw_table(&m, 6, 1 | 4 | 8 | 32);
    fbw_ref_at(&m, fbw_vec_elem(p->fields_vec, 0), p->field);
    fbw_scalar(&m, p->field, 2, AT_INT, 1);
    p->name = fbw_string(&m, "col");
    fbw_ref(&m, p->field, 0, p->name);
    p->type = fbw_table(&m, 2, 3);
    fbw_scalar(&m, p->type, 0, 32, 4);
    fbw_scalar(&m, p->type, 1, 1, 1);
    fbw_ref(&m, p->field, 3, p->type);
    p->children = fbw_vector(&m, 0, 4, NULL);
    fbw_ref(&m, p->field, 5, p->children);
    return m;
}

static size_t vtable_of(const bytes_t *m, size_t table)
{
    return table - (size_t)(int32_t)bt_get32(m, table);
}

static void corrupt_flatbuffers(void **state)
{
    (void)state;
    meta_pos_t p;
    bytes_t m = schema_meta(&p);
    bytes_t s = {0};
    tw_frame(&s, &m, NULL, 0);
    sc_result_t *r = sc_result_new();
    assert_int_equal(sc_result_append_ipc(r, s.p, s.n, NULL), SC_OK);
    assert_string_equal(sc_result_col_arrow_type(r, 0), "int32");
    sc_result_destroy(r);
    bt_free(&s);

    /* Each entry: position to overwrite (as a function of p), width, value. */
    struct patch {
        const char *what;
        size_t at;
        size_t width;
        uint64_t value;
    };
    m = schema_meta(&p);
    size_t msg_vt = vtable_of(&m, p.msg), field_vt = vtable_of(&m, p.field);
    bt_free(&m);
    const struct patch patches[] = {
        {"root offset past the end", 0, 4, 0xFFFFFF00u},
        {"root offset zero", 0, 4, 0},
        {"vtable before the buffer", p.msg, 4, 0x7FFFFFFFu},
        {"vtable past the end", p.msg, 4, 0x80000001u},
        {"vtable length huge", msg_vt, 2, 0xFFFE},
        {"vtable length odd", msg_vt, 2, 5},
        {"vtable length too small", msg_vt, 2, 2},
        {"inline length huge", msg_vt + 2, 2, 0xFFF0},
        {"inline length too small", msg_vt + 2, 2, 2},
        {"field offset past inline part", msg_vt + 4 + 2 * 2, 2, 0x0FF0},
        {"field offset inside soffset", msg_vt + 4 + 2 * 2, 2, 2},
        {"header offset past the end", p.header_slot, 4, 0x00FFFFFFu},
        {"header offset zero", p.header_slot, 4, 0},
        {"fields vector count huge", p.fields_vec, 4, 0x40000000u},
        {"fields vector count max", p.fields_vec, 4, 0xFFFFFFFFu},
        {"field offset in vector zero", p.fields_vec + 4, 4, 0},
        {"field offset in vector huge", p.fields_vec + 4, 4, 0xFFFFFFF0u},
        {"field vtable bad", p.field, 4, 0x7FFFFFFFu},
        {"field name length huge", p.name, 4, 0x7FFFFFFFu},
        {"field type offset past the end", fbw_slot(p.field, 3), 4, 0x00FFFFFFu},
        {"field type vtable bad", p.type, 4, 0x80000000u},
        {"children count huge", p.children, 4, 0x3FFFFFFFu},
        {"children field offset bad", field_vt + 4 + 2 * 5, 2, 0xFFFF},
    };
    for (size_t i = 0; i < sizeof patches / sizeof patches[0]; i++) {
        m = schema_meta(&p);
        bt_set(&m, patches[i].at, patches[i].value, patches[i].width);
        tw_frame(&s, &m, NULL, 0);
        sc_error_t *err = sc_error_new();
        sc_code_t rc = try_append(s.p, s.n, err);
        if (rc != SC_ERR_PROTOCOL)
            fail_msg("%s: %s '%s'", patches[i].what, sc_code_name(rc), sc_error_message(err));
        sc_error_destroy(err);
        bt_free(&s);
    }
}

/* Found by fuzz_arrow: a name with a NUL inside must still be found by the
 * name sc_result_col_name returns. */
static void name_with_embedded_nul(void **state)
{
    (void)state;
    meta_pos_t p;
    bytes_t m = schema_meta(&p);
    bt_set(&m, p.name, 4, 4); /* "col" plus its terminator */
    bytes_t s = {0};
    tw_frame(&s, &m, NULL, 0);
    sc_result_t *r = sc_result_new();
    assert_int_equal(sc_result_append_ipc(r, s.p, s.n, NULL), SC_OK);
    assert_string_equal(sc_result_col_name(r, 0), "col");
    size_t idx = 9;
    assert_int_equal(sc_result_col_index(r, "col", &idx, NULL), SC_OK);
    assert_int_equal(idx, 0);
    sc_result_destroy(r);
    bt_free(&s);
}

static void nesting_and_shared_subtrees(void **state)
{
    (void)state;
    /* 80 nested lists: deeper than we follow. */
    tfield_t chain[81];
    for (int i = 0; i < 81; i++)
        chain[i] = (tfield_t){.name = "l",
                              .type = i == 80 ? AT_INT : AT_LIST,
                              .p0 = 32,
                              .p1 = 1,
                              .nchildren = i == 80 ? 0 : 1,
                              .children = i == 80 ? NULL : &chain[i + 1]};
    bytes_t s = {0};
    tw_schema(&s, chain, 1);
    expect_failure(&s, SC_ERR_UNSUPPORTED, "deeper than");

    /* 10 nested lists are fine. */
    chain[9] = chain[80];
    tw_schema(&s, chain, 1);
    sc_result_t *r = sc_result_new();
    assert_int_equal(sc_result_append_ipc(r, s.p, s.n, NULL), SC_OK);
    assert_string_equal(sc_result_col_arrow_type(r, 0),
                        "list<l: list<l: list<l: list<l: list<l: list<l: list<l: list<l: "
                        "list<l: int32>>>>>>>>>");
    sc_result_destroy(r);
    bt_free(&s);

    /* Struct fields whose children vectors point twice at the same field, 40
     * levels deep: 2^40 paths through a few KB. Must fail fast, not hang. */
    enum { LEVELS = 40 };
    bytes_t m = {0};
    size_t hdr = tw_message(&m, 4, 1, 0);
    size_t sch = fbw_table(&m, 2, 2);
    fbw_ref_at(&m, hdr, sch);
    size_t fv = fbw_vector(&m, 1, 4, NULL);
    fbw_ref(&m, sch, 1, fv);
    size_t pending[2] = {fbw_vec_elem(fv, 0), 0};
    size_t npending = 1;
    for (int level = 0; level <= LEVELS; level++) {
        bool leaf = level == LEVELS;
        size_t f = fbw_table(&m, 6, leaf ? 1 | 4 | 8 : 1 | 4 | 8 | 32);
        for (size_t k = 0; k < npending; k++)
            fbw_ref_at(&m, pending[k], f);
        fbw_scalar(&m, f, 2, leaf ? AT_BOOL : AT_STRUCT, 1);
        fbw_ref(&m, f, 0, fbw_string(&m, "x"));
        fbw_ref(&m, f, 3, fbw_table(&m, 0, 0));
        if (!leaf) {
            size_t cv = fbw_vector(&m, 2, 4, NULL);
            fbw_ref(&m, f, 5, cv);
            pending[0] = fbw_vec_elem(cv, 0);
            pending[1] = fbw_vec_elem(cv, 1);
            npending = 2;
        }
    }
    tw_frame(&s, &m, NULL, 0);
    clock_t t0 = clock();
    expect_failure(&s, SC_ERR_PROTOCOL, "more fields than the metadata can hold");
    assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 2.0);
}

/* One decimal128 column with the given unscaled values (lo, hi pairs). */
static sc_result_t *decimal_result(int32_t precision, int32_t scale, const uint64_t *vals, size_t n)
{
    tfield_t f = {.name = "d", .type = AT_DECIMAL, .p0 = precision, .p1 = scale, .p2 = 128};
    uint8_t body[16 * 8] = {0};
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < 16; k++)
            body[16 * i + (size_t)k] = (uint8_t)(vals[2 * i + (size_t)k / 8] >> (8 * (k % 8)));
    int64_t nodes[] = {(int64_t)n, 0};
    int64_t buffers[] = {0, 0, 0, (int64_t)(16 * n)};
    tbatch_t bt = {.length = (int64_t)n,
                   .nodes = nodes,
                   .nnodes = 1,
                   .buffers = buffers,
                   .nbuffers = 2,
                   .body = body,
                   .body_len = 16 * n,
                   .declared_body_len = -1,
                   .compression = -1};
    bytes_t s = {0};
    tw_schema(&s, &f, 1);
    tw_batch(&s, &bt);
    sc_result_t *r = sc_result_new();
    sc_error_t *err = sc_error_new();
    if (sc_result_append_ipc(r, s.p, s.n, err) != SC_OK)
        fail_msg("%s", sc_error_message(err));
    sc_error_destroy(err);
    bt_free(&s);
    return r;
}

static void decimal_rendering(void **state)
{
    (void)state;
    const uint64_t vals[] = {
        0,
        0x8000000000000000u, /* INT128_MIN */
        0xFFFFFFFFFFFFFFFFu,
        0x7FFFFFFFFFFFFFFFu, /* INT128_MAX */
        0xFFFFFFFFFFFFFFFFu,
        0xFFFFFFFFFFFFFFFFu, /* -1 */
        0,
        0, /* 0 */
        7,
        0, /* 7 */
        12345,
        0, /* 12345 */
    };
    static const struct {
        int32_t scale;
        const char *want[6];
    } cases[] = {
        {0,
         {"-170141183460469231731687303715884105728", "170141183460469231731687303715884105727",
          "-1", "0", "7", "12345"}},
        {38,
         {"-1.70141183460469231731687303715884105728", "1.70141183460469231731687303715884105727",
          "-0.00000000000000000000000000000000000001", "0.00000000000000000000000000000000000000",
          "0.00000000000000000000000000000000000007", "0.00000000000000000000000000000000012345"}},
        {3,
         {"-170141183460469231731687303715884105.728", "170141183460469231731687303715884105.727",
          "-0.001", "0.000", "0.007", "12.345"}},
        {-3,
         {"-170141183460469231731687303715884105728000",
          "170141183460469231731687303715884105727000", "-1000", "0", "7000", "12345000"}},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        sc_result_t *r = decimal_result(38, cases[k].scale, vals, 6);
        for (size_t row = 0; row < 6; row++) {
            char buf[64];
            assert_int_equal(sc_result_get_decimal_str(r, row, 0, buf, sizeof buf, NULL), SC_OK);
            if (strcmp(buf, cases[k].want[row]) != 0)
                fail_msg("scale %d row %zu: got %s want %s", cases[k].scale, row, buf,
                         cases[k].want[row]);
        }
        sc_decimal_t d;
        assert_int_equal(sc_result_get_decimal(r, 0, 0, &d, NULL), SC_OK);
        assert_true(d.unscaled.lo == 0 && d.unscaled.hi == INT64_MIN);
        sc_result_destroy(r);
    }
    /* Scales beyond what we render are reported, not decoded. */
    tfield_t f = {.name = "d", .type = AT_DECIMAL, .p0 = 38, .p1 = 1000000, .p2 = 128};
    bytes_t s = {0};
    tw_schema(&s, &f, 1);
    sc_result_t *r = sc_result_new();
    assert_int_equal(sc_result_append_ipc(r, s.p, s.n, NULL), SC_OK);
    assert_int_equal(sc_result_col_type(r, 0), SC_TYPE_UNSUPPORTED);
    sc_result_destroy(r);
    bt_free(&s);
}

static void extreme_timestamps(void **state)
{
    (void)state;
    static const struct {
        int unit;
        int64_t v;
        sc_code_t rc;
        const char *text;
    } cases[] = {
        {0, INT64_MAX, SC_ERR_UNSUPPORTED, ""},
        {1, INT64_MIN, SC_ERR_UNSUPPORTED, ""},
        {2, INT64_MIN, SC_OK, "-290308-12-21 19:59:05.224192"},
        {2, INT64_MAX, SC_OK, "294247-01-10 04:00:54.775807"},
        {3, INT64_MIN, SC_OK, "1677-09-21 00:12:43.145224"},
        {0, -62135596800, SC_OK, "0001-01-01 00:00:00"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tfield_t f = {.name = "t", .type = AT_TIMESTAMP, .p0 = cases[i].unit};
        uint8_t body[8];
        for (int k = 0; k < 8; k++)
            body[k] = (uint8_t)((uint64_t)cases[i].v >> (8 * k));
        int64_t nodes[] = {1, 0};
        int64_t buffers[] = {0, 0, 0, 8};
        tbatch_t bt = {.length = 1,
                       .nodes = nodes,
                       .nnodes = 1,
                       .buffers = buffers,
                       .nbuffers = 2,
                       .body = body,
                       .body_len = 8,
                       .declared_body_len = -1,
                       .compression = -1};
        bytes_t s = {0};
        tw_schema(&s, &f, 1);
        tw_batch(&s, &bt);
        sc_result_t *r = sc_result_new();
        assert_int_equal(sc_result_append_ipc(r, s.p, s.n, NULL), SC_OK);
        char buf[64];
        sc_code_t rc = sc_result_format_value(r, 0, 0, buf, sizeof buf, NULL);
        if (rc != cases[i].rc || strcmp(buf, cases[i].text) != 0)
            fail_msg("case %zu: %s '%s'", i, sc_code_name(rc), buf);
        int64_t us = 1;
        assert_int_equal(sc_result_get_timestamp(r, 0, 0, &us, NULL), cases[i].rc);
        sc_result_destroy(r);
        bt_free(&s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hand_built_stream_decodes),
        cmocka_unit_test(broken_record_batches),
        cmocka_unit_test(broken_framing),
        cmocka_unit_test(corrupt_flatbuffers),
        cmocka_unit_test(name_with_embedded_nul),
        cmocka_unit_test(nesting_and_shared_subtrees),
        cmocka_unit_test(decimal_rendering),
        cmocka_unit_test(extreme_timestamps),
        cmocka_unit_test(truncated_at_every_offset),
        cmocka_unit_test(corrupted_at_every_offset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
