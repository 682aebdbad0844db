/*
 * domsec_cmd.h - the commands of the `domsec` administration tool.
 *
 * domsec_main.c parses the global options (-c FILE) and hands the rest of
 * the command line to one command: argv[0] is the command word
 * ("transport-config", "cert", "crl"), and getopt has been reset, so each
 * command parses its own options with getopt_long as if it were main().
 * Each returns the process exit status: 0 done, 1 failed (a message on
 * stderr names the file or the object), 2 usage.
 */
#ifndef DOMSEC_CMD_H
#define DOMSEC_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define DOMSEC_DEFAULT_CONFIG "/etc/domsec/domsec.conf"

/* domsec_transport.c */
int     domsec_transport_main(const char *config_path, int argc, char **argv);
/* Validate text as config_path's new content, then replace the file
 * atomically.  0, or 1 after a message on stderr. */
int     domsec_write(const char *config_path, const char *text);
/* A whole file, NUL-terminated (owned), or NULL with errno. */
char   *domsec_read(const char *path);
/* The configuration config_path (policy_config_unref it), or NULL after
 * printing its errors on stderr. */
struct config *domsec_config_load(const char *config_path);

/* domsec_transport_partner.c: `transport-config partner show|set|remove`
 * (argv[0] is "partner") */
int     domsec_partner_main(const char *config_path, int argc, char **argv);

/* domsec_status.c: `domsec status|reload|ping` */
int     domsec_status_main(const char *config_path, int argc, char **argv);
int     domsec_reload_main(const char *config_path, int argc, char **argv);
int     domsec_ping_main(const char *config_path, int argc, char **argv);
/* Ask the domsecd of config_path to reload, through its control socket, and
 * print the outcome; the exit status (0 OK, 1 refused: errors on stderr,
 * 3 not answering, 4 denied).  after_write: a file was just written, and a
 * daemon that is not running is fine ("written; domsecd is not running"). */
int     domsec_reload(const char *config_path, bool after_write);

/* domsec_queue.c: `domsec queue list|summary|show|retry|hold|release|delete` */
int     domsec_queue_main(const char *config_path, int argc, char **argv);
/* domsec_tlsrpt.c */
int     domsec_tlsrpt_main(const char *config_path, int argc, char **argv);

/* domsec_term.c: text from outside, safe for a terminal */
char   *domsec_term_text(const char *s, bool lines);
const char *domsec_term(const char *s, bool lines);

/* domsec_cert.c: `domsec cert new|request|import|list|show|renew|remove` */
int     domsec_cert_main(const char *config_path, int argc, char **argv);

/* domsec_certshow.c: a certificate's pin (SHA-256 of its SPKI) as printed,
 * 64 lower-case hex digits in out and 44 base64 characters in b64 (SPEC 9,
 * curl's sha256//), or NULL when the facts have none (both left alone) */
struct tls_cert_info;
const char *domsec_pin(const struct tls_cert_info *ci, char out[65], char b64[45]);

/* domsec_crl.c: `domsec crl list` */
int     domsec_crl_main(const char *config_path, int argc, char **argv);

/* domsec_log.c: `domsec log search|audit` */
int     domsec_log_main(const char *config_path, int argc, char **argv);
/* One CSV field with Exchange's escaping; a JSON string (n bytes, or C). */
void    domsec_csv_field(FILE *fp, const char *p, size_t n);
void    domsec_json_str(FILE *fp, const char *p, size_t n);
void    domsec_json_cstr(FILE *fp, const char *s);
/* domsec_log_audit.c: the audit as text, CSV or JSON, to fp */
struct log_audit_result;
void    domsec_log_audit_table(FILE *fp, const struct log_audit_result *r);
void    domsec_log_audit_csv(FILE *fp, const struct log_audit_result *r);
void    domsec_log_audit_json(FILE *fp, const struct log_audit_result *r);
/* Parts of the JSON: `, "session_ids": [...], "session_ids_total": N` and
 * {"name": count, ...}. */
struct log_audit_count;
struct log_audit_sids;
void    domsec_log_audit_json_sids(FILE *fp, const struct log_audit_sids *s);
void    domsec_log_audit_json_counts(FILE *fp, const struct log_audit_count *c, size_t n);
/* domsec_log_trust.c: the audit's partner trust section: the table's and
 * the CSV's part (after the outbound TLS policies), and a domain object's
 * `, "identity": {...}` member */
struct log_audit_partner;
void    domsec_log_trust_table(FILE *fp, const struct log_audit_result *r);
void    domsec_log_trust_csv(FILE *fp, const struct log_audit_result *r);
void    domsec_log_trust_json(FILE *fp, const struct log_audit_partner *p);
/* domsec_log_html.c: the audit as one self-contained HTML page, to fp */
void    domsec_log_html(FILE *fp, const struct log_audit_result *r);

#endif
