/*
 * Line-oriented "key value" text, the grammar of signpost.conf and of the
 * small state files (docs/signpost.conf.md):
 *
 *   # a comment             blank lines and comments are skipped
 *   key value               value is the rest of the line, trimmed
 *   key "value with  space" a double-quoted value keeps its spaces;
 *                           \" and \\ are the only escapes
 *
 * Keys are [a-z0-9-]+. Lines are at most SP_KV_LINE_MAX bytes; control
 * characters other than TAB are refused. Pure: reads from an sp_wire.
 */
#ifndef SP_KV_H
#define SP_KV_H

#include "sp_err.h"
#include "sp_wire.h"

#define SP_KV_LINE_MAX 1024

typedef struct sp_kv {
	char key[64];
	char value[SP_KV_LINE_MAX];
	unsigned line;      /* 1-based line number of this pair */
} sp_kv;

/*
 * Read the next pair. Returns 1 with *kv filled, 0 at the end of input, or
 * a negative SP_E* code with e set to "<what>:<line>: <problem>", where
 * what names the input (a file name).
 */
int sp_kv_next(sp_wire *r, const char *what, unsigned *lineno, sp_kv *kv, sp_errmsg *e);

#endif
