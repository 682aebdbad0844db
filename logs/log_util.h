/*
 * log_util.h - small helpers every layer shares: the text of a socket
 * address, the domain of a mail address, ISO 8601 time, a whole file, the
 * sorted names of a directory.  Here, in the bottom layer, so that logs/, policy/, tls/, dns/
 * and relay/ format the same thing one way.
 */
#ifndef DOMSEC_LOG_UTIL_H
#define DOMSEC_LOG_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* log_util.c */
/* A copy of text (NULL: "") with every control character made a space, so
 * that a multi-line reply fits one log field or queue record (xstrdup'ed,
 * owned by the caller). */
char *log_oneline(const char *text);
/* The IP of sa ("192.0.2.1", "2001:db8::1", "::ffff:192.0.2.1" for a
 * v4-mapped IPv6 address) into out; "" when sa is NULL, not AF_INET or
 * AF_INET6, or out is too small.  Returns out. */
char *log_addr_ip(char *out, size_t size, const struct sockaddr *sa);
/* The endpoint of sa as .NET IPEndPoint prints it: "IP:PORT" for IPv4,
 * "[IP]:PORT" for IPv6 (v4-mapped included); "" as log_addr_ip.  Truncated
 * to size - 1 bytes.  Returns out. */
char *log_addr_endpoint(char *out, size_t size, const struct sockaddr *sa);
/* The port of sa in host order, 0 when sa is neither AF_INET nor AF_INET6. */
unsigned log_addr_port(const struct sockaddr *sa);
/* The domain of the mail address addr (what follows its last '@'; "" when
 * it has none), lower-cased (ASCII) into out and truncated to size - 1
 * bytes.  Returns out. */
char *log_mail_domain(char *out, size_t size, const char *addr);
/* Unix seconds t as ISO 8601 UTC, "2026-11-22T13:33:41Z", into out (32
 * bytes hold any); zero instead when t is 0 and zero is not NULL; t in
 * decimal when gmtime cannot represent it.  Returns out. */
char *log_iso_time(char *out, size_t size, int64_t t, const char *zero);
/* Read the whole regular file path, of at most max bytes, into *data
 * (xmalloc'ed, owned by the caller, NUL-terminated after *len bytes; a file
 * shrinking while read yields what was there) and its permission bits into
 * *mode unless mode is NULL.  Returns 0, or -1 with errno (from open or
 * fstat; EINVAL: not a regular file; EFBIG: larger than max) and *data
 * NULL, *len 0.  A FIFO or device is refused without blocking or reading.
 * Synchronous: blocks on the disk. */
int log_read_file(const char *path, size_t max, unsigned char **data, size_t *len,
                  unsigned *mode);
/* The same from the open descriptor fd (not closed; read from its offset),
 * e.g. one opened with O_NOFOLLOW | O_NONBLOCK and checked by the caller:
 * anything but a regular file is EINVAL before a read. */
int log_read_fd(int fd, size_t max, unsigned char **data, size_t *len, unsigned *mode);
/* Whether path opens as a regular file of at most max bytes, for a file that
 * a library (wolfSSL) then opens itself: 0, or -1 with errno as for
 * log_read_file.  Never blocks on a FIFO.  Synchronous. */
int log_file_check(const char *path, size_t max);
/* The names of dir's entries that keep accepts (every one but "." and ".."
 * when keep is NULL), sorted by strcmp, in an array of *n xstrdup'ed
 * strings (owned by the caller: log_dir_names_free), never NULL on success.
 * NULL with errno (from opendir) and *n 0 when dir cannot be opened. */
char **log_dir_names(const char *dir, bool (*keep)(const char *name), size_t *n);
/* Free what log_dir_names returned (NULL is allowed). */
void log_dir_names_free(char **names, size_t n);
/* Write dir/name atomically: dir/.name.PID.N.tmp, this writer's own (mode
 * 0600; never followed if a symlink), fsync, rename, fsync of dir.  0, or
 * -1 with errno (the temporary file removed).  Synchronous; writers of one
 * name may run at once (threads or processes): the last rename wins. */
int log_write_file(const char *dir, const char *name, const void *data, size_t len);
/* The length of the well-formed UTF-8 sequence at p, n > 0 bytes left (RFC
 * 3629: no overlong form, no surrogate, at most U+10FFFF): 1 for any ASCII
 * byte (controls too), 0 if p starts no such sequence.  *cp (if not NULL)
 * gets the code point.  The one validator every layer uses. */
size_t log_utf8_len(const unsigned char *p, size_t n, uint32_t *cp);

#endif
