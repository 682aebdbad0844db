/*
 * policy_edit.h - edit one key of an INI configuration text in place,
 * keeping every other line (comments, order, spacing) as it was, or remove
 * one section.  Used by `domsec transport-config set` and `partner`; the
 * result is validated by loading it.
 */
#ifndef DOMSEC_POLICY_EDIT_H
#define DOMSEC_POLICY_EDIT_H

#include <stddef.h>

/* policy_edit.c */
/*
 * The raw value of key in [section] (trimmed, inline "; comment" removed),
 * owned by the caller, or NULL when the key is absent.
 */
char   *policy_edit_get(const char *text, const char *section, const char *key);
/*
 * A new text where key in [section] has value: the key's line is replaced,
 * or a line is added after the section's last key (or its header), or the
 * section is appended.  Owned by the caller.
 */
char   *policy_edit_set(const char *text, const char *section, const char *key,
                        const char *value);
/*
 * A new text without [section] ("partner woodgrovebank.com"): its header
 * and its lines up to its last key, and one blank line around it; comments
 * after its last key stay (they head the next section).  Owned by the
 * caller; NULL when the text has no such section.
 */
char   *policy_edit_remove(const char *text, const char *section);
/* Split a list value (commas and/or spaces) and apply adds and removes,
 * case-insensitively, keeping order; returns the joined list ("a, b").
 * *missing is set to the first removed entry that was not there (or NULL). */
char   *policy_edit_list(const char *value, const char *const *add, size_t nadd,
                         const char *const *remove, size_t nremove, const char **missing);

#endif
