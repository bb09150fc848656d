/*
 * A streaming CSV parser (RFC 4180): comma-separated fields, quoted
 * fields with doubled quotes, CRLF, LF or a lone CR between records, and
 * a UTF-8 byte order mark at the start skipped. Input arrives in chunks of
 * any size. Each complete record goes to a callback with the line it
 * starts on, so an importer can point at the offending line.
 *
 * Errors inside a record (a quote in an unquoted field, text after a
 * closing quote, a record over the size limit, a quoted field still open
 * at the end of the input) do not stop the parser: the record is delivered
 * with `error` set and parsing resumes with the next record.
 */
#ifndef CRIER_CORE_IMPORT_CSV_H
#define CRIER_CORE_IMPORT_CSV_H

#include <stddef.h>

/* Maximum number of fields in one record. */
#define CSV_MAX_FIELDS 1024

/* One parsed record. The pointers are valid during the callback only. */
struct csv_record {
    size_t line;                /* 1-based line where the record starts */
    size_t count;               /* number of fields */
    const char *const *fields;  /* NUL-terminated field texts */
    const size_t *lengths;      /* byte length of each field */
    const char *error;          /* NULL, or why the record is malformed */
    long error_field;           /* 0-based field of the error, or -1 */
};

/* Receives one record; a nonzero return stops parsing and is returned by
 * csv_parser_feed or csv_parser_finish. */
typedef int (*csv_record_cb)(void *arg, const struct csv_record *record);

struct csv_parser;

/*
 * Creates a parser that calls `cb` for each record. A record whose field
 * bytes pass `max_record_bytes` is delivered with an error and no fields.
 * Returns NULL when memory runs out.
 */
struct csv_parser *csv_parser_new(size_t max_record_bytes, csv_record_cb cb,
                                  void *arg);

/* Parses `len` bytes; returns 0, CRIER_ENOMEM or the callback's code. */
int csv_parser_feed(struct csv_parser *p, const char *data, size_t len);

/* Ends the input and delivers the last record if it has no line break
 * after it; returns like csv_parser_feed. */
int csv_parser_finish(struct csv_parser *p);

void csv_parser_free(struct csv_parser *p);

#endif
