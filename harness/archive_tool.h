/* em-archive: the pieces of the archive tool (harness/archive*.c, linked into build/em-archive
 * only, never into libemharness.a: the checker has no business reading archives). Named
 * archive_tool.h because <archive.h> is libarchive's, and the suites compile with -Iharness.
 *
 * Every operation returns one of three outcomes, which are also the tool's exit status:
 *   EM__ARC_OK       0  done
 *   EM__ARC_REFUSED  1  the archive is refused; why is in the reason buffer (one line, no prefix)
 *   EM__ARC_ENV      2  usage or environment error (a missing file, a full disk, out of memory);
 *                       the message is in the reason buffer and says what to do
 */
#ifndef EM_HARNESS_ARCHIVE_TOOL_H
#define EM_HARNESS_ARCHIVE_TOOL_H

#include <stddef.h>
#include <stdint.h>

enum { EM__ARC_OK = 0, EM__ARC_REFUSED = 1, EM__ARC_ENV = 2 };

/* Room for a reason: a line a person reads, with a name or two quoted in it. */
#define EM__ARC_REASON 1024

/* The caps of unpack and list, checked while the data streams (headers lie). */
typedef struct em__arc_caps {
  uint64_t max_entries;    /* entries of any kind (files and folders) */
  uint64_t max_bytes;      /* bytes of all files together, as decompressed */
  uint64_t max_file_bytes; /* bytes of one file */
  double max_ratio;        /* bytes produced / compressed bytes read, once past EM__ARC_RATIO_FLOOR */
} em__arc_caps;

/* The defaults: a lab submission is a few source files and a results.json of tens of
 * KiB, so these leave two orders of magnitude of room and still stop a bomb in well under a second. */
#define EM__ARC_MAX_ENTRIES 1000
#define EM__ARC_MAX_BYTES (64ull << 20)
#define EM__ARC_MAX_FILE_BYTES (16ull << 20)
#define EM__ARC_MAX_RATIO 200.0
/* The ratio is only judged once this much has been produced: a 3-byte file in a 200-byte tar.gz
 * is not a bomb, and a tiny archive's ratio is dominated by its headers. 1 MiB at ratio 1000 (what
 * gzip does to zeros) costs 1 KiB of input, so a bomb still stops after a few milliseconds. */
#define EM__ARC_RATIO_FLOOR (1ull << 20)

/* Names: per component and in total, in bytes (Linux's NAME_MAX is 255; 1024 is far beyond any
 * real path in a submission and well under PATH_MAX). */
#define EM__ARC_MAX_COMPONENT 255
#define EM__ARC_MAX_PATH 1024

/* Reads ARCHIVE with every check; extracts into dest (which must not exist; created 0700) unless
 * dest is NULL, in which case it lists the entries on stdout. On refusal dest is removed. */
int em__arc_read(const char *archive, const char *dest, const em__arc_caps *caps, char *reason, size_t cap);

/* Checks an entry name; NULL if acceptable, else why not (a static string). */
const char *em__arc_bad_name(const char *name);

/* name without "." and empty components ("./a//b/" -> "a/b"); empty when nothing is left. */
void em__arc_normalise(const char *name, char *out, size_t cap);

/* Writes name into out for a message: quoted, bytes that are not printable ASCII as \xNN, cut
 * at about 80 characters with the full length stated. */
void em__arc_quote(const char *name, char *out, size_t cap);

/* One file to pack: its path inside the archive and its bytes. */
typedef struct em__arc_file {
  char path[EM__ARC_MAX_PATH + 1];
  unsigned char *data;
  size_t size;
  int64_t mtime;
} em__arc_file;

/* Reads the file at fs_path into f, to be stored as name (normalised); refuses non-regular
 * files, files over EM__ARC_MAX_FILE_BYTES and names that unpack would refuse (EM__ARC_ENV). */
int em__arc_load(const char *fs_path, const char *name, em__arc_file *f, char *msg, size_t cap);

/* Writes files into out (gzip + pax restricted, mode 0644, uid/gid 0, no user names, mtime kept)
 * through a temporary file in out's folder, so a failed pack leaves nothing; never replaces an
 * existing out. */
int em__arc_write(const char *out, const em__arc_file *files, size_t n, char *msg, size_t cap);

/* The lowercase hex SHA-256 of data (65 bytes with the NUL). */
void em__arc_sha256_hex(const unsigned char *data, size_t size, char hex[65]);

/* `em-archive submit`: the manifest and the archive of a lab (see archive.c's usage). */
typedef struct em__arc_submit_opts {
  int lab;
  const char *lab_dir;  /* labs/labN-name */
  const char *results;  /* build/labN/results.json */
  const char *user;     /* may be NULL or empty: the login name */
  const char *out_dir;  /* submissions */
} em__arc_submit_opts;

int em__arc_submit(const em__arc_submit_opts *o, char *msg, size_t cap);

/* ---- what a submission's check covered, per track (archive_tracks.c) ----------------------------
 * A claimed 26 / 26 with the CUDA track skipped for want of a GPU and its skeleton untouched must
 * not read as a finished lab: the receipt and manifest.json say per track what was checked. */

/* Every lab has these two tracks; a track's files are told by their extension (cpu: .c and .h,
 * cuda: .cu and .cuh). */
#define EM__ARC_NTRACKS 2

typedef struct em__arc_track {
  const char *name;   /* "cpu", "cuda" */
  const char *status; /* "checked" (some of its cases ran), "skipped" (all skipped), "not_checked" (none in results) */
  int cases, passed, failed, errors, skipped;
  double points, max; /* over the cases that ran, as results.json's score counts them */
  char reason[320];   /* the checker's reason for the first skipped case; empty when none */
  int files, todos;   /* the track's student files, and the EM_TODO( calls left in them */
  char note[1024];    /* one line for the receipt: what was checked, and the TODOs left */
} em__arc_track;

struct json_t;

/* EM_TODO( calls in C or CUDA source, outside comments and literals. */
int em__arc_count_todos(const unsigned char *text, size_t size);

/* Tallies the cases of results (the parsed results.json) per track and counts the TODOs of the
 * student files (files[0..n): their paths end in the file names). */
void em__arc_tracks_tally(struct json_t *results, const em__arc_file *files, size_t n, em__arc_track t[EM__ARC_NTRACKS]);

/* What the claimed score covers, in words ("the cpu track only (cuda not run here)"). */
void em__arc_claim_scope(const em__arc_track t[EM__ARC_NTRACKS], char *out, size_t cap);

/* manifest.json's "tracks" object, and the names of the checked tracks as an array (the claimed
 * score's "tracks"); NULL when out of memory. */
struct json_t *em__arc_tracks_json(const em__arc_track t[EM__ARC_NTRACKS], const em__arc_file *files, size_t n);
struct json_t *em__arc_checked_tracks_json(const em__arc_track t[EM__ARC_NTRACKS]);

#endif /* EM_HARNESS_ARCHIVE_TOOL_H */
