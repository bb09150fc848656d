/*
 * Error codes shared by the core and every plugin.
 *
 * A function that can fail returns 0 or one of the negative codes below.
 * Callbacks receive the same codes as their status argument.
 */
#ifndef CRIER_ERROR_H
#define CRIER_ERROR_H

/* X(name, value, message): the one table of codes and their messages. */
#define CRIER_ERRNO_MAP(X)                                                  \
    X(EINVAL,   -1,  "invalid argument")                                    \
    X(ENOMEM,   -2,  "out of memory")                                       \
    X(EIO,      -3,  "input/output error")                                  \
    X(ENOTFOUND, -4, "not found")                                           \
    X(EEXIST,   -5,  "already exists")                                      \
    X(EBUSY,    -6,  "busy, try again")                                     \
    X(ESTALE,   -7,  "stale lease generation")                              \
    X(ECLOSED,  -8,  "shutting down")                                       \
    X(ETOOBIG,  -9,  "too large")                                           \
    X(ECONFIG,  -10, "invalid configuration")                               \
    X(EABI,     -11, "plugin ABI version mismatch")                         \
    X(ENOTSUP,  -12, "operation not supported")                             \
    X(ETIMEDOUT, -13, "timed out")

/* CRIER_EINVAL, CRIER_ENOMEM, ...: the codes of the table above, and
 * CRIER_OK for success. */
enum crier_errno {
#define CRIER_ERRNO_ENUM_(name, value, message) CRIER_##name = (value),
    CRIER_ERRNO_MAP(CRIER_ERRNO_ENUM_)
#undef CRIER_ERRNO_ENUM_
    CRIER_OK = 0
};


/* Returns the message for an error code; never NULL. */
static inline const char *
crier_strerror(int code)
{
    switch (code) {
    case 0:
        return "success";
#define CRIER_ERRNO_CASE_(name, value, message) case (value): return message;
    CRIER_ERRNO_MAP(CRIER_ERRNO_CASE_)
#undef CRIER_ERRNO_CASE_
    default:
        return "unknown error";
    }
}


/* Returns the symbolic name of an error code ("EINVAL"); never NULL. */
static inline const char *
crier_errname(int code)
{
    switch (code) {
    case 0:
        return "OK";
#define CRIER_ERRNO_NAME_(name, value, message) case (value): return #name;
    CRIER_ERRNO_MAP(CRIER_ERRNO_NAME_)
#undef CRIER_ERRNO_NAME_
    default:
        return "EUNKNOWN";
    }
}

#endif
