/*
 * The lexer of the expression language: turns source text into tokens and
 * tracks the 1-based line and column of each. Columns count characters,
 * so a UTF-8 continuation byte does not advance the column.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <crier/error.h>

#include "rules/expr_int.h"


void
expr_error_set(struct expr_error *err, int line, int col,
               const char *format, ...)
{
    va_list ap;

    err->line = line;
    err->col = col;

    va_start(ap, format);
    vsnprintf(err->message, sizeof(err->message), format, ap);
    va_end(ap);
}


/* Returns the length of the UTF-8 sequence at `s`, or 0 when invalid. */
static size_t
utf8_sequence_length(const unsigned char *s)
{
    uint32_t cp;
    size_t n;
    size_t i;

    if (s[0] < 0x80) {
        return 1;
    }
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        n = 2;
        cp = s[0] & 0x1f;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        n = 3;
        cp = s[0] & 0x0f;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        n = 4;
        cp = s[0] & 0x07;
    } else {
        return 0;
    }

    for (i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (s[i] & 0x3f);
    }

    /* Reject overlong forms, UTF-16 surrogates and code points past
     * U+10FFFF. */
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000)
        || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
    {
        return 0;
    }
    return n;
}


int
expr_source_check(const char *src, struct expr_error *err)
{
    size_t length = strlen(src);
    size_t pos = 0;
    int line = 1;
    int col = 1;
    size_t n;

    if (length > EXPR_MAX_LENGTH) {
        expr_error_set(err, 1, 1,
                       "expression is too long: %zu bytes, the limit is %d",
                       length, EXPR_MAX_LENGTH);
        return CRIER_EINVAL;
    }

    while (pos < length) {
        n = utf8_sequence_length((const unsigned char *) src + pos);
        if (n == 0) {
            expr_error_set(err, line, col, "invalid UTF-8 byte 0x%02x",
                           (unsigned char) src[pos]);
            return CRIER_EINVAL;
        }
        if (src[pos] == '\n') {
            line++;
            col = 0;
        }
        pos += n;
        col++;
    }
    return 0;
}


void
expr_lexer_init(struct expr_lexer *lexer, const char *src,
                struct expr_error *err)
{
    lexer->src = src;
    lexer->pos = 0;
    lexer->line = 1;
    lexer->col = 1;
    lexer->err = err;
}


void
expr_token_clear(struct expr_token *token)
{
    json_decref(token->value);
    token->value = NULL;
}


/* Moves past one byte, keeping the line and column up to date. */
static void
lexer_advance(struct expr_lexer *lexer)
{
    unsigned char c = (unsigned char) lexer->src[lexer->pos];

    lexer->pos++;
    if (c == '\n') {
        lexer->line++;
        lexer->col = 1;
    } else if ((c & 0xc0) != 0x80) {
        lexer->col++;
    }
}


static char
lexer_peek(const struct expr_lexer *lexer, size_t ahead)
{
    size_t i;

    /* Never look past the terminating NUL. */
    for (i = 0; i < ahead; i++) {
        if (lexer->src[lexer->pos + i] == '\0') {
            return '\0';
        }
    }
    return lexer->src[lexer->pos + ahead];
}


static int
is_name_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}


static int
is_digit(char c)
{
    return c >= '0' && c <= '9';
}


static int
hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}


/* Returns the value of the four hex digits at `s`, or -1 if one is not. */
static long
hex4_value(const char *s)
{
    long value = 0;
    int digit;
    int i;

    for (i = 0; i < 4; i++) {
        digit = hex_value(s[i]);
        if (digit < 0) {
            return -1;
        }
        value = value * 16 + digit;
    }
    return value;
}


/* Writes `cp` as UTF-8 at `out` and returns the bytes written. */
static size_t
utf8_encode(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char) cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char) (0xc0 | (cp >> 6));
        out[1] = (char) (0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char) (0xe0 | (cp >> 12));
        out[1] = (char) (0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char) (0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char) (0xf0 | (cp >> 18));
    out[1] = (char) (0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char) (0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char) (0x80 | (cp & 0x3f));
    return 4;
}


/*
 * Decodes the \u escape at `s` (just past the "\u") into `*cp`. Returns
 * the source bytes used after the "\u", or 0 when the escape is invalid.
 * A high surrogate must be followed by "\u" and a low surrogate.
 */
static size_t
unicode_escape_decode(const char *s, uint32_t *cp)
{
    long high = hex4_value(s);
    long low;

    if (high <= 0) {
        return 0;
    }
    if (high >= 0xdc00 && high <= 0xdfff) {
        return 0;
    }
    if (high < 0xd800 || high > 0xdbff) {
        *cp = (uint32_t) high;
        return 4;
    }

    if (s[4] != '\\' || s[5] != 'u') {
        return 0;
    }
    low = hex4_value(s + 6);
    if (low < 0xdc00 || low > 0xdfff) {
        return 0;
    }
    *cp = 0x10000 + (((uint32_t) high - 0xd800) << 10)
          + ((uint32_t) low - 0xdc00);
    return 10;
}


/*
 * Returns the character that a one-letter escape such as \n stands for,
 * or 0 when the escape is not one of them and is kept as written.
 */
static char
simple_escape_value(char c)
{
    switch (c) {
    case '\'':
    case '"':
    case '\\':
    case '/':
        return c;
    case 'n':
        return '\n';
    case 'r':
        return '\r';
    case 't':
        return '\t';
    default:
        return 0;
    }
}


/*
 * Reads a quoted string starting at its opening quote. The decoded text
 * is never longer than the source text, which bounds the buffer.
 */
static int
lexer_read_string(struct expr_lexer *lexer, struct expr_token *token)
{
    char quote = lexer->src[lexer->pos];
    size_t start = lexer->pos;
    char *buffer;
    size_t length = 0;
    uint32_t cp;
    size_t used;
    char c;

    buffer = malloc(strlen(lexer->src + start) + 1);
    if (buffer == NULL) {
        expr_error_set(lexer->err, token->line, token->col,
                       "out of memory");
        return CRIER_ENOMEM;
    }
    lexer_advance(lexer);

    for (;;) {
        c = lexer->src[lexer->pos];
        if (c == '\0' || c == '\n') {
            expr_error_set(lexer->err, token->line, token->col,
                           "unterminated string; close it with %c on the "
                           "same line", quote);
            free(buffer);
            return CRIER_EINVAL;
        }
        if (c == quote) {
            lexer_advance(lexer);
            break;
        }
        if (c != '\\') {
            buffer[length++] = c;
            lexer_advance(lexer);
            continue;
        }

        /* An escape: \u, a one-letter escape, or kept as written. */
        c = lexer_peek(lexer, 1);
        if (c == 'u') {
            used = unicode_escape_decode(lexer->src + lexer->pos + 2, &cp);
            if (used == 0) {
                expr_error_set(lexer->err, lexer->line, lexer->col,
                               "invalid \\u escape; write four hex digits "
                               "other than 0000, and a surrogate pair "
                               "above U+FFFF");
                free(buffer);
                return CRIER_EINVAL;
            }
            length += utf8_encode(cp, buffer + length);
            used += 2;
            while (used-- > 0) {
                lexer_advance(lexer);
            }
        } else if (simple_escape_value(c) != 0) {
            buffer[length++] = simple_escape_value(c);
            lexer_advance(lexer);
            lexer_advance(lexer);
        } else {
            buffer[length++] = '\\';
            lexer_advance(lexer);
        }
    }

    token->kind = EXPR_TOKEN_STRING;
    token->value = json_stringn(buffer, length);
    free(buffer);
    if (token->value == NULL) {
        expr_error_set(lexer->err, token->line, token->col,
                       "out of memory");
        return CRIER_ENOMEM;
    }
    return 0;
}


/* Moves past a run of digits and returns how many there were. */
static size_t
lexer_skip_digits(struct expr_lexer *lexer)
{
    size_t count = 0;

    while (is_digit(lexer->src[lexer->pos])) {
        lexer_advance(lexer);
        count++;
    }
    return count;
}


/*
 * Reads a number in JSON's syntax. The lexer checks the syntax itself, so
 * that the error can show the whole bad number, and jansson converts the
 * text to a value, so both agree on every number.
 */
static int
lexer_read_number(struct expr_lexer *lexer, struct expr_token *token)
{
    const char *start = lexer->src + lexer->pos;
    int valid = 1;
    json_error_t json_err;
    char c;

    if (start[0] == '0' && is_digit(start[1])) {
        valid = 0;
    }
    lexer_skip_digits(lexer);

    if (lexer->src[lexer->pos] == '.') {
        lexer_advance(lexer);
        if (lexer_skip_digits(lexer) == 0) {
            valid = 0;
        }
    }

    c = lexer->src[lexer->pos];
    if (c == 'e' || c == 'E') {
        lexer_advance(lexer);
        c = lexer->src[lexer->pos];
        if (c == '+' || c == '-') {
            lexer_advance(lexer);
        }
        if (lexer_skip_digits(lexer) == 0) {
            valid = 0;
        }
    }

    /* Take in the rest of a run such as 1.2.3 or 12abc for the message. */
    c = lexer->src[lexer->pos];
    while (is_name_start(c) || is_digit(c) || c == '.') {
        valid = 0;
        lexer_advance(lexer);
        c = lexer->src[lexer->pos];
    }

    token->kind = EXPR_TOKEN_NUMBER;
    token->length = (size_t) (lexer->src + lexer->pos - start);
    if (!valid) {
        expr_error_set(lexer->err, token->line, token->col,
                       "invalid number '%.*s'", (int) token->length, start);
        return CRIER_EINVAL;
    }

    /* The syntax is valid here, so a failure is an out-of-range value. */
    token->value = json_loadb(start, token->length, JSON_DECODE_ANY,
                              &json_err);
    if (token->value == NULL) {
        expr_error_set(lexer->err, token->line, token->col,
                       "number '%.*s' is out of range", (int) token->length,
                       start);
        return CRIER_EINVAL;
    }
    return 0;
}


/* Fails on a character that starts no token, shown as hex if invisible. */
static void
lexer_fail_character(struct expr_lexer *lexer, const struct expr_token *token)
{
    const unsigned char *at = (const unsigned char *) lexer->src + lexer->pos;

    if (at[0] < 0x20 || at[0] == 0x7f) {
        expr_error_set(lexer->err, token->line, token->col,
                       "unexpected control character 0x%02x", at[0]);
        return;
    }
    expr_error_set(lexer->err, token->line, token->col,
                   "unexpected character '%.*s'",
                   (int) utf8_sequence_length(at), (const char *) at);
}


/* Reads a one- or two-character operator or punctuation mark. */
static int
lexer_read_operator(struct expr_lexer *lexer, struct expr_token *token)
{
    char c = lexer->src[lexer->pos];
    char next = lexer_peek(lexer, 1);
    size_t i;

    token->length = 1;
    switch (c) {
    case '(': token->kind = EXPR_TOKEN_LPAREN; break;
    case ')': token->kind = EXPR_TOKEN_RPAREN; break;
    case '[': token->kind = EXPR_TOKEN_LBRACKET; break;
    case ']': token->kind = EXPR_TOKEN_RBRACKET; break;
    case '.': token->kind = EXPR_TOKEN_DOT; break;
    case ',': token->kind = EXPR_TOKEN_COMMA; break;
    case '~': token->kind = EXPR_TOKEN_MATCH; break;
    case '-': token->kind = EXPR_TOKEN_MINUS; break;
    case '+':
    case '*':
    case '/':
    case '%':
        token->kind = EXPR_TOKEN_ARITHMETIC;
        break;
    case '<':
    case '>':
    case '!':
        if (next == '=') {
            token->length = 2;
        }
        if (c == '<') {
            token->kind = next == '=' ? EXPR_TOKEN_LE : EXPR_TOKEN_LT;
        } else if (c == '>') {
            token->kind = next == '=' ? EXPR_TOKEN_GE : EXPR_TOKEN_GT;
        } else {
            token->kind = next == '=' ? EXPR_TOKEN_NE : EXPR_TOKEN_NOT;
        }
        break;
    case '=':
        if (next == '~') {
            expr_error_set(lexer->err, token->line, token->col,
                           "unknown operator '=~'; use '~'");
            return CRIER_EINVAL;
        }
        if (next != '=') {
            expr_error_set(lexer->err, token->line, token->col,
                           "unknown operator '='; use '==' to compare");
            return CRIER_EINVAL;
        }
        token->kind = EXPR_TOKEN_EQ;
        token->length = 2;
        break;
    case '&':
    case '|':
        if (next != c) {
            expr_error_set(lexer->err, token->line, token->col,
                           "unknown operator '%c'; use '%c%c'", c, c, c);
            return CRIER_EINVAL;
        }
        token->kind = c == '&' ? EXPR_TOKEN_AND : EXPR_TOKEN_OR;
        token->length = 2;
        break;
    default:
        lexer_fail_character(lexer, token);
        return CRIER_EINVAL;
    }

    for (i = 0; i < token->length; i++) {
        lexer_advance(lexer);
    }
    return 0;
}


int
expr_lexer_next(struct expr_lexer *lexer, struct expr_token *token)
{
    char c;
    int rc;

    expr_token_clear(token);

    c = lexer->src[lexer->pos];
    while (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        lexer_advance(lexer);
        c = lexer->src[lexer->pos];
    }

    token->text = lexer->src + lexer->pos;
    token->length = 0;
    token->line = lexer->line;
    token->col = lexer->col;

    if (c == '\0') {
        token->kind = EXPR_TOKEN_END;
        return 0;
    }

    if (is_name_start(c)) {
        while (is_name_start(c) || is_digit(c)) {
            lexer_advance(lexer);
            c = lexer->src[lexer->pos];
        }
        token->kind = EXPR_TOKEN_NAME;
        token->length = (size_t) (lexer->src + lexer->pos - token->text);
        return 0;
    }

    if (is_digit(c)) {
        return lexer_read_number(lexer, token);
    }

    if (c == '\'' || c == '"') {
        rc = lexer_read_string(lexer, token);
        token->length = (size_t) (lexer->src + lexer->pos - token->text);
        return rc;
    }

    return lexer_read_operator(lexer, token);
}
