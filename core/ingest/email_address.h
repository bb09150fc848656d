/*
 * The email address check shared by event ingest and the email channel,
 * so that an address ingest stores is one the channel can send to.
 *
 * The source is compiled into the core and into the email plugin. A
 * plugin cannot link against core symbols, so the file depends only on
 * the C library.
 */
#ifndef CRIER_CORE_EMAIL_ADDRESS_H
#define CRIER_CORE_EMAIL_ADDRESS_H

/* The maximum address length in SMTP (RFC 5321 with its 2004 erratum). */
#define EMAIL_ADDRESS_MAX 254

/* The maximum local part length (RFC 5321, section 4.5.3.1.1). */
#define EMAIL_LOCAL_PART_MAX 64

/* The maximum length of one domain label (RFC 1035, section 2.3.4). */
#define EMAIL_LABEL_MAX 63

/*
 * Returns nonzero when `address` is "local@domain" as SMTP carries it
 * unmodified. The local part is a dot-atom (RFC 5322, section 3.2.3) of 1
 * to 64 bytes. The domain is a host name of two or more labels of
 * letters, digits and inner hyphens, and its last label is not all
 * digits. The whole is at most EMAIL_ADDRESS_MAX bytes. Quoted local parts, address
 * literals, comments, single-label domains and non-ASCII (SMTPUTF8)
 * addresses are rejected; see docs/channels/email.md.
 */
int email_address_valid(const char *address);

#endif
