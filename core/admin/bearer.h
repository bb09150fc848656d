/*
 * Bearer tokens checked against SHA-256 digests. The admin API and the
 * api trigger plugin both use this code. The plugin compiles bearer.c
 * itself, because a plugin cannot link the core's symbols.
 */
#ifndef CRIER_CORE_BEARER_H
#define CRIER_CORE_BEARER_H

/* The prefix of a digest entry in the config. */
#define BEARER_DIGEST_PREFIX "sha256:"

/* Hex digits in a SHA-256 digest. */
#define BEARER_DIGEST_HEX 64

/* Returns 1 when `text` is "sha256:" and 64 hex digits, else 0. */
int bearer_digest_valid(const char *text);

/*
 * Returns 1 when the SHA-256 of `token` equals one of `digests` (lowercase
 * hex, NULL-terminated), else 0. Every digest is compared in full, so
 * the time taken does not depend on where or whether a digest matches.
 */
int bearer_token_matches(const char *token, const char *const *digests);

/* Returns the token of "Bearer <token>", or NULL when `value` is not a
 * bearer credential. The scheme is case-insensitive (RFC 7235). */
const char *bearer_token(const char *value);

#endif
