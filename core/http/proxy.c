/*
 * Client addresses behind trusted proxies.
 *
 * Addresses are compared in one 16-byte form: an IPv4 address becomes its
 * IPv4-mapped IPv6 address (::ffff:a.b.c.d), and an IPv4 block's prefix
 * length grows by 96 to match.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <crier/error.h>

#include "http/http_int.h"

static const unsigned char mapped_prefix[12] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
};


/* Parses an IPv4 or IPv6 address of `len` bytes into the 16-byte form. */
static int
addr_parse(const char *text, size_t len, unsigned char addr[16])
{
    char copy[64];
    struct in_addr v4;

    if (len == 0 || len >= sizeof(copy))
        return CRIER_EINVAL;
    memcpy(copy, text, len);
    copy[len] = '\0';

    if (inet_pton(AF_INET, copy, &v4) == 1) {
        memcpy(addr, mapped_prefix, sizeof(mapped_prefix));
        memcpy(addr + 12, &v4, 4);
        return 0;
    }
    if (inet_pton(AF_INET6, copy, addr) == 1)
        return 0;
    return CRIER_EINVAL;
}


void
http_peer_format(const unsigned char addr[16], char *text)
{
    if (memcmp(addr, mapped_prefix, sizeof(mapped_prefix)) == 0)
        inet_ntop(AF_INET, addr + 12, text, HTTP_PEER_TEXT_SIZE);
    else
        inet_ntop(AF_INET6, addr, text, HTTP_PEER_TEXT_SIZE);
}


/* Parses "10.0.0.0/8", "fd00::/8" or a single address. */
int
http_cidr_parse(const char *text, struct http_cidr *cidr)
{
    const char *slash = strchr(text, '/');
    size_t len = slash != NULL ? (size_t)(slash - text) : strlen(text);
    int is_v4 = memchr(text, ':', len) == NULL;
    unsigned max = is_v4 ? 32 : 128;
    unsigned bits = max;
    const char *digit;

    if (addr_parse(text, len, cidr->addr) < 0)
        return CRIER_EINVAL;
    if (slash != NULL) {
        if (slash[1] == '\0' || strlen(slash + 1) > 3)
            return CRIER_EINVAL;
        bits = 0;
        for (digit = slash + 1; *digit != '\0'; digit++) {
            if (*digit < '0' || *digit > '9')
                return CRIER_EINVAL;
            bits = bits * 10 + (unsigned)(*digit - '0');
        }
        if (bits > max)
            return CRIER_EINVAL;
    }
    cidr->bits = is_v4 ? bits + 96 : bits;
    return 0;
}


static int
cidr_match(const struct http_cidr *cidr, const unsigned char addr[16])
{
    unsigned whole = cidr->bits / 8;
    unsigned rest = cidr->bits % 8;
    unsigned char mask;

    if (memcmp(cidr->addr, addr, whole) != 0)
        return 0;
    if (rest == 0)
        return 1;
    mask = (unsigned char)(0xff << (8 - rest));
    return (cidr->addr[whole] & mask) == (addr[whole] & mask);
}


static int
addr_trusted(const struct http_server *srv, const unsigned char addr[16])
{
    size_t i;

    for (i = 0; i < srv->proxy_count; i++) {
        if (cidr_match(&srv->proxies[i], addr))
            return 1;
    }
    return 0;
}


/* Returns 1 when `peer` matches one of the server's trusted proxies. */
int
http_peer_trusted(const struct http_server *srv, const unsigned char peer[16])
{
    return addr_trusted(srv, peer);
}


void
http_peer_store(unsigned char peer[16], const struct sockaddr_storage *addr)
{
    const struct sockaddr_in *in4 = (const struct sockaddr_in *)addr;
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)addr;

    if (addr->ss_family == AF_INET) {
        memcpy(peer, mapped_prefix, sizeof(mapped_prefix));
        memcpy(peer + 12, &in4->sin_addr, 4);
    } else {
        memcpy(peer, &in6->sin6_addr, 16);
    }
}


/*
 * Walks one X-Forwarded-For value from the right. Each address replaces
 * `addr`, and the walk stops at the first untrusted one. Returns nonzero
 * when the walk has stopped, at an untrusted or an unreadable entry.
 */
static int
forwarded_walk(const struct http_server *srv, const char *value,
               unsigned char addr[16])
{
    const char *end = value + strlen(value);
    const char *start;
    const char *first;
    const char *last;
    unsigned char next[16];

    while (end > value) {
        start = end;
        while (start > value && start[-1] != ',')
            start--;
        first = start;
        last = end;
        while (first < last && (*first == ' ' || *first == '\t'))
            first++;
        while (last > first && (last[-1] == ' ' || last[-1] == '\t'))
            last--;
        end = start > value ? start - 1 : value;
        if (first == last)
            continue;

        /* An unreadable entry is not trusted, so the last hop is kept. */
        if (addr_parse(first, (size_t)(last - first), next) < 0)
            return 1;
        memcpy(addr, next, 16);
        if (!addr_trusted(srv, addr))
            return 1;
    }
    return 0;
}


/*
 * Resolves the client address into req->peer: the TCP peer, or when that
 * is a trusted proxy, the last untrusted address of X-Forwarded-For read
 * from the right. Repeated X-Forwarded-For headers count as one list.
 */
const char *
http_peer_resolve(struct crier_http_req *req, const struct http_server *srv)
{
    unsigned char addr[16];
    size_t i;
    const char *name;

    memcpy(addr, req->conn->peer, sizeof(addr));
    if (srv->proxy_count > 0 && addr_trusted(srv, addr)) {
        for (i = req->header_count; i-- > 0;) {
            name = req->head.data + req->headers[i].name;
            if (strcasecmp(name, "X-Forwarded-For") != 0)
                continue;
            if (forwarded_walk(srv, req->head.data + req->headers[i].value,
                               addr))
                break;
        }
    }
    http_peer_format(addr, req->peer);
    return req->peer;
}
