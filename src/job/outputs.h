/* The files a run asks back ("outputs"): what the sandbox's init handed over as fds
 * (sb_result_t.files, sandbox/files.c says why fds) turned into names and contents within the
 * run's limits. */
#ifndef RUNCELL_JOB_OUTPUTS_H
#define RUNCELL_JOB_OUTPUTS_H

#include "job/job.h"
#include "sandbox/sandbox.h"

/* Fill res->files (sorted by name) from sr's entries: a regular file whose name is valid UTF-8
 * without control characters, of at most lim->outputs_file_bytes, while the total stays within
 * lim->outputs_total_bytes, comes with its content; any other is listed with the reason it has
 * none ("bad_name", "not_regular", "too_large", "total_limit"). Nothing is cut: a file comes
 * whole or not at all. res->files_truncated when something was left out, also when init found
 * more than outputs_count (sr->files_over). Reads through the fds only (pread, bounded by what
 * fstat said and the limits). Returns 0 or -ENOMEM. */
int job_outputs_read(const sb_result_t *sr, const rc_limits_t *lim, stage_result_t *res);
void job_outputs_free(stage_result_t *res);
/* Whether name is valid UTF-8 with no control character (C0, DEL, C1). */
bool job_output_name_ok(const char *name);

#endif
