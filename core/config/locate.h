/*
 * Finds where a character of a string setting sits in the config file.
 * libconfig reports the line of a setting's name only, while an error
 * inside a value (a rule's expression) should name its own line and
 * column, through escapes, adjacent strings ("a" "b") and values that
 * start on a later line.
 */
#ifndef CRIER_CORE_LOCATE_H
#define CRIER_CORE_LOCATE_H

#include <stddef.h>

/*
 * Finds the setting `name` on `line` of `file`, and the file position of
 * character `index` (counted in UTF-8 characters) of its string value.
 * Columns count characters, from 1. Returns 0, or -1 when the value is
 * not found as expected; then *line_out and *col_out are left alone.
 */
int config_locate_in_value(const char *file, int line, const char *name,
                           size_t index, int *line_out, int *col_out);

#endif
