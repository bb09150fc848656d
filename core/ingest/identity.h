/*
 * Identity rules shared by event ingest and the admin API, so that a
 * lookup finds a profile by the same form that ingest stored.
 */
#ifndef CRIER_CORE_IDENTITY_H
#define CRIER_CORE_IDENTITY_H

#include <jansson.h>

/* Maximum length of an identity value, in bytes. */
#define IDENTITY_MAX 320

/* Returns 1 for an identity kind: lowercase letters, digits and '_',
 * starting with a letter, at most 32 bytes. */
int identity_kind_valid(const char *kind);

/* Returns the address lowercased, or NULL when it is not an address. */
json_t *identity_normalize_email(const char *s);

/* Returns the E.164 number with its separators removed, or NULL. */
json_t *identity_normalize_phone(const char *s);

#endif
