/*
 * Fuzzes the SMTP client's reply parser (plugins/channels/email/
 * smtp_reply.c) with server output: the input is fed whole and then
 * split at a point the first byte picks, and both ways must read the
 * same replies, each with a code from 200 to 599.
 */
#include <string.h>

#include "../../plugins/channels/email/smtp_reply.h"
#include "fuzz.h"

#define REPLIES_MAX 64


/* Parses `len` bytes fed in two pieces split at `split`. Returns the
 * number of replies, and stops at the first error. */
static int
replies_read(const char *data, size_t len, size_t split,
             struct smtp_reply *out)
{
    struct smtp_parser parser;
    size_t piece_ends[2] = { split, len };
    size_t offset = 0;
    int count = 0;

    smtp_parser_reset(&parser);
    for (int p = 0; p < 2; p++) {
        while (offset < piece_ends[p] && count < REPLIES_MAX) {
            size_t used = 0;
            enum smtp_parse_status status;

            status = smtp_reply_feed(&parser, data + offset,
                                     piece_ends[p] - offset, &used,
                                     &out[count]);
            if (used > piece_ends[p] - offset)
                __builtin_trap();   /* read past the input */
            offset += used;
            if (status == SMTP_PARSE_ERROR)
                return count;
            if (status == SMTP_PARSE_REPLY)
                count++;
        }
    }
    return count;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct smtp_reply whole[REPLIES_MAX], split[REPLIES_MAX];
    const char *text = (const char *) data;
    size_t cut;
    int n, m;

    if (size == 0)
        return 0;
    cut = size > 1 ? 1 + data[0] % (size - 1) : 1;
    n = replies_read(text + 1, size - 1, 0, whole);
    m = replies_read(text + 1, size - 1, cut - 1, split);
    if (n != m)
        __builtin_trap();           /* the split changed the result */
    for (int i = 0; i < n; i++) {
        if (whole[i].code < 200 || whole[i].code > 599 ||
            whole[i].code != split[i].code ||
            whole[i].extensions != split[i].extensions ||
            strcmp(whole[i].text, split[i].text) != 0 ||
            strnlen(whole[i].text, sizeof(whole[i].text)) ==
            sizeof(whole[i].text))
            __builtin_trap();
    }
    return 0;
}
