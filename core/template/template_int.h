/* Helpers shared by the files of core/template/. */
#ifndef CRIER_CORE_TEMPLATE_INT_H
#define CRIER_CORE_TEMPLATE_INT_H

#include <jansson.h>

#include "template/template.h"

/*
 * Reads dir/required.txt, when it exists, into a NULL-terminated list of
 * dotted names (*out, g_strfreev it; NULL without the file). Returns 0,
 * or -1 with `err` naming the file and line of a bad name.
 */
int template_required_load(const char *dir, char ***out,
                           struct template_error *err);

/*
 * Returns the first name of `required` whose value in `data` is absent,
 * null or an empty string, or NULL when all are present.
 */
const char *template_required_missing(char *const *required,
                                      const json_t *data);

#endif
