#include "config/locate.h"

#include <ctype.h>
#include <string.h>

#include <glib.h>

/* A reading position in the file text. */
struct cursor {
    const char *p;
    int line;
    int col;                    /* in characters, from 1 */
};


static void
advance(struct cursor *c)
{
    if (*c->p == '\n') {
        c->line++;
        c->col = 1;
    } else if (((unsigned char) *c->p & 0xc0) != 0x80) {
        c->col++;
    }
    c->p++;
    /* Continuation bytes of a UTF-8 character do not move the column. */
    while (((unsigned char) *c->p & 0xc0) == 0x80)
        c->p++;
}


/* Skips white space and libconfig comments: #, // and slash-star. */
static void
skip_blanks(struct cursor *c)
{
    for (;;) {
        if (*c->p == ' ' || *c->p == '\t' || *c->p == '\r' ||
            *c->p == '\n') {
            advance(c);
        } else if (*c->p == '#' || (c->p[0] == '/' && c->p[1] == '/')) {
            while (*c->p != '\0' && *c->p != '\n')
                advance(c);
        } else if (c->p[0] == '/' && c->p[1] == '*') {
            advance(c);
            advance(c);
            while (*c->p != '\0' && !(c->p[0] == '*' && c->p[1] == '/'))
                advance(c);
            if (*c->p != '\0') {
                advance(c);
                advance(c);
            }
        } else {
            return;
        }
    }
}


static int
is_name_char(char ch)
{
    return isalnum((unsigned char) ch) || ch == '_' || ch == '-' ||
           ch == '*';
}


/* Moves to the first `name` on the current line that is a setting's name
 * outside any string, followed by '=' or ':'. */
static int
find_name(struct cursor *c, const char *name)
{
    size_t len = strlen(name);
    int in_string = 0;
    int line = c->line;

    while (*c->p != '\0' && c->line == line) {
        if (in_string) {
            if (*c->p == '\\' && c->p[1] != '\0')
                advance(c);
            else if (*c->p == '"')
                in_string = 0;
            advance(c);
            continue;
        }
        if (*c->p == '"') {
            in_string = 1;
            advance(c);
            continue;
        }
        if (strncmp(c->p, name, len) == 0 && !is_name_char(c->p[len])) {
            struct cursor after = *c;

            for (size_t i = 0; i < len; i++)
                advance(&after);
            skip_blanks(&after);
            if (*after.p == '=' || *after.p == ':') {
                advance(&after);
                *c = after;
                return 0;
            }
        }
        advance(c);
    }
    return -1;
}


/* Walks the value's string literals and stops on character `index`. */
static int
walk_value(struct cursor *c, size_t index)
{
    size_t seen = 0;

    skip_blanks(c);
    while (*c->p == '"') {
        struct cursor closing;

        advance(c);
        while (*c->p != '\0' && *c->p != '"') {
            if (seen == index)
                return 0;
            /* libconfig turns these escapes into one character each and
             * keeps any other backslash as it is. */
            if (*c->p == '\\' && c->p[1] == 'x' &&
                isxdigit((unsigned char) c->p[2]) &&
                isxdigit((unsigned char) c->p[3])) {
                for (int i = 0; i < 4; i++)
                    advance(c);
            } else if (*c->p == '\\' && c->p[1] != '\0' &&
                       strchr("\"\\nrtf", c->p[1]) != NULL) {
                advance(c);
                advance(c);
            } else {
                advance(c);
            }
            seen++;
        }
        if (*c->p != '"')
            return -1;
        closing = *c;
        advance(c);
        skip_blanks(c);
        /* An error at the very end points at the closing quote. */
        if (*c->p != '"' && seen == index) {
            *c = closing;
            return 0;
        }
    }
    return -1;
}


int
config_locate_in_value(const char *file, int line, const char *name,
                       size_t index, int *line_out, int *col_out)
{
    char *text = NULL;
    struct cursor c;
    int rc = -1;

    if (line <= 0 || !g_file_get_contents(file, &text, NULL, NULL))
        return -1;
    c.p = text;
    c.line = 1;
    c.col = 1;
    while (*c.p != '\0' && c.line < line)
        advance(&c);
    if (c.line == line && find_name(&c, name) == 0 &&
        walk_value(&c, index) == 0) {
        *line_out = c.line;
        *col_out = c.col;
        rc = 0;
    }
    g_free(text);
    return rc;
}
