/*
 * Unit tests of src/knockfile.c: the contents rule (one trailing newline
 * removed, 1 to 256 bytes) and reading real files, with the messages.
 */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "knock.h"
#include "knockfile.h"

/* A knockfile_parse() case: contents, expected result and knock. */
struct kf_case {
	const char * name;
	const char * buf;
	size_t len;
	int rc;
	const char * knock;
	size_t knocklen;
};

#define S(s)	s, sizeof(s) - 1

static const struct kf_case kf_cases[] = {
	{ "plain", S("secret"), KNOCKFILE_OK, S("secret") },
	{ "newline", S("secret\n"), KNOCKFILE_OK, S("secret") },
	{ "crlf", S("secret\r\n"), KNOCKFILE_OK, S("secret") },
	{ "two newlines", S("secret\n\n"), KNOCKFILE_OK, S("secret\n") },
	{ "newline crlf", S("secret\n\r\n"), KNOCKFILE_OK, S("secret\n") },
	{ "crlf twice", S("a\r\n\r\n"), KNOCKFILE_OK, S("a\r\n") },
	{ "lone cr", S("secret\r"), KNOCKFILE_OK, S("secret\r") },
	{ "cr cr lf", S("a\r\r\n"), KNOCKFILE_OK, S("a\r") },
	{ "lf cr", S("a\n\r"), KNOCKFILE_OK, S("a\n\r") },
	{ "inner newline", S("a\nb\n"), KNOCKFILE_OK, S("a\nb") },
	{ "leading newline", S("\nab"), KNOCKFILE_OK, S("\nab") },
	{ "spaces kept", S(" a b \n"), KNOCKFILE_OK, S(" a b ") },
	{ "one byte", S("x"), KNOCKFILE_OK, S("x") },
	{ "one byte nl", S("x\n"), KNOCKFILE_OK, S("x") },
	{ "newline only", S("\n\n"), KNOCKFILE_OK, S("\n") },
	{ "cr only", S("\r"), KNOCKFILE_OK, S("\r") },
	{ "nul inside", S("a\0b\n"), KNOCKFILE_OK, S("a\0b") },
	{ "nul only", S("\0"), KNOCKFILE_OK, S("\0") },
	{ "binary", S("\xff\x00\x80\x01"), KNOCKFILE_OK,
	    S("\xff\x00\x80\x01") },
	{ "empty", S(""), KNOCKFILE_EMPTY, S("") },
	{ "just newline", S("\n"), KNOCKFILE_EMPTY, S("") },
	{ "just crlf", S("\r\n"), KNOCKFILE_EMPTY, S("") },
};

Test(knockfile, parse_table)
{
	size_t i;

	for (i = 0; i < sizeof(kf_cases) / sizeof(kf_cases[0]); i++) {
		const struct kf_case * c = &kf_cases[i];
		struct knock k;
		int rc;

		memset(&k, 0, sizeof(k));
		rc = knockfile_parse(c->buf, c->len, &k);
		cr_expect_eq(rc, c->rc, "%s: knockfile_parse = %d, expected %d",
		    c->name, rc, c->rc);
		if (rc != KNOCKFILE_OK || c->rc != KNOCKFILE_OK)
			continue;
		cr_expect_eq(k.len, c->knocklen, "%s: knock of %zu bytes, "
		    "expected %zu", c->name, k.len, c->knocklen);
		if (k.len == c->knocklen)
			cr_expect_arr_eq(k.buf, c->knock, c->knocklen,
			    "%s: knock bytes differ", c->name);
	}
}

/* Lengths around KNOCK_MAX, with and without a newline. */
Test(knockfile, parse_lengths)
{
	static const struct {
		size_t body;		/* Bytes before the ending. */
		const char * end;	/* "", "\n" or "\r\n". */
		int rc;
	} cases[] = {
		{ 255, "", KNOCKFILE_OK },
		{ 256, "", KNOCKFILE_OK },
		{ 256, "\n", KNOCKFILE_OK },
		{ 256, "\r\n", KNOCKFILE_OK },
		{ 257, "", KNOCKFILE_TOOLONG },
		{ 257, "\n", KNOCKFILE_TOOLONG },
		{ 257, "\r\n", KNOCKFILE_TOOLONG },
		{ 255, "\n\n", KNOCKFILE_OK },	/* 255 + "\n" = 256. */
		{ 256, "\n\n", KNOCKFILE_TOOLONG },
		{ 1000, "", KNOCKFILE_TOOLONG },
	};
	uint8_t buf[1100];
	struct knock k;
	size_t i, len;
	int rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(buf, 'k', cases[i].body);
		buf[0] = 0;		/* A NUL inside, too. */
		len = cases[i].body;
		memcpy(buf + len, cases[i].end, strlen(cases[i].end));
		len += strlen(cases[i].end);
		memset(&k, 0, sizeof(k));
		rc = knockfile_parse(buf, len, &k);
		cr_expect_eq(rc, cases[i].rc, "%zu bytes + %zu-byte ending: "
		    "%d, expected %d", cases[i].body, strlen(cases[i].end), rc,
		    cases[i].rc);
		if (rc == KNOCKFILE_OK && cases[i].rc == KNOCKFILE_OK)
			cr_expect_eq(k.len, len - (strlen(cases[i].end) ?
			    (cases[i].end[0] == '\r' ? 2 : 1) : 0));
	}
}

/* Temporary knock files. */
static char kf_path[H_PATH_MAX] = "";
static char kf_dir[64] = "";

static void
kf_cleanup(void)
{

	h_file_remove(kf_path);
	if (kf_dir[0] != '\0')
		rmdir(kf_dir);
}

/* knockfile_read() for the harness: into ${k}, or a scratch one if NULL. */
static int
kf_read(const char * path, void * k)
{
	struct knock scratch;

	return (knockfile_read(path, k != NULL ? k : &scratch));
}

Test(knockfile, read_ok_strips_newline, .fini = kf_cleanup)
{
	struct knock k;
	char err[512];

	h_file_make(kf_path, "knock", "open\0sesame\n", 12, 0600);
	cr_assert_eq(h_read_captured(kf_read, kf_path, &k, err,
	    sizeof(err)), 0);
	cr_expect_eq(k.len, 11);
	cr_expect_arr_eq(k.buf, "open\0sesame", 11);
	cr_expect_str_eq(err, "", "a mode 0600 file must not warn");
}

Test(knockfile, read_256_bytes_with_crlf, .fini = kf_cleanup)
{
	uint8_t buf[258];
	struct knock k;
	char err[512];

	memset(buf, 0xEE, 256);
	memcpy(buf + 256, "\r\n", 2);
	h_file_make(kf_path, "knock", buf, sizeof(buf), 0600);
	cr_assert_eq(h_read_captured(kf_read, kf_path, &k, err,
	    sizeof(err)), 0);
	cr_expect_eq(k.len, 256);
	cr_expect_arr_eq(k.buf, buf, 256);
	cr_expect_str_eq(err, "");
}

Test(knockfile, read_missing_names_path)
{
	h_read_refused(kf_read, "/tmp/l7kk-no-such-dir/knock",
	    "cannot read knock file '/tmp/l7kk-no-such-dir/knock': "
	    "No such file or directory");
}

Test(knockfile, read_directory_refused, .fini = kf_cleanup)
{
	char why[256];

	strcpy(kf_dir, "/tmp/l7kk-dir-XXXXXX");
	cr_assert_neq(mkdtemp(kf_dir), NULL);
	snprintf(why, sizeof(why),
	    "cannot read knock file '%s': not a regular file", kf_dir);
	h_read_refused(kf_read, kf_dir, why);
}

Test(knockfile, read_devnull_refused)
{
	h_read_refused(kf_read, "/dev/null",
	    "cannot read knock file '/dev/null': not a regular file");
}

/* Refused contents: empty, a newline only, too long. */
Test(knockfile, read_bad_contents_refused, .fini = kf_cleanup)
{
	static const struct {
		size_t len;
		int fill;		/* Byte repeated, then an ending. */
		const char * end;
		const char * why;
	} cases[] = {
		{ 0, 'a', "", "is empty: expected 1 to 256 bytes" },
		{ 0, 'a', "\n", "is empty: expected 1 to 256 bytes" },
		{ 0, 'a', "\r\n", "is empty: expected 1 to 256 bytes" },
		{ 257, 'a', "", "is too long: expected 1 to 256 bytes "
		    "(one trailing newline is ignored)" },
		{ 257, 'a', "\n", "is too long: expected 1 to 256 bytes "
		    "(one trailing newline is ignored)" },
		{ 256, 'a', "\n\n", "is too long: expected 1 to 256 bytes "
		    "(one trailing newline is ignored)" },
		{ 256, 'a', "\r\n\r\n", "is too long: expected 1 to 256 bytes "
		    "(one trailing newline is ignored)" },
		{ 256, 'a', "\r\nX", "is too long: expected 1 to 256 bytes "
		    "(one trailing newline is ignored)" },
		{ 100000, 'a', "\n", "is too long: expected 1 to 256 bytes "
		    "(one trailing newline is ignored)" },
	};
	static uint8_t buf[100010];
	char why[1024];
	size_t i, len;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(buf, cases[i].fill, cases[i].len);
		len = cases[i].len;
		memcpy(buf + len, cases[i].end, strlen(cases[i].end));
		len += strlen(cases[i].end);
		h_file_make(kf_path, "knock", buf, len, 0600);
		snprintf(why, sizeof(why), "knock file '%s' %s", kf_path,
		    cases[i].why);
		h_read_refused(kf_read, kf_path, why);
		unlink(kf_path);
		kf_path[0] = '\0';
	}
}

/* Group- or other-accessible modes warn, and the knock is still read. */
Test(knockfile, read_accessible_modes_warn, .fini = kf_cleanup)
{
	static const mode_t modes[] = { 0644, 0640, 0604, 0620, 0602, 0660,
	    0666, 0610, 0601 };
	char err[1024], want[1024];
	struct knock k;
	size_t i;

	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		h_file_make(kf_path, "knock", "knock\n", 6, modes[i]);
		memset(&k, 0, sizeof(k));
		cr_expect_eq(h_read_captured(kf_read, kf_path, &k, err,
		    sizeof(err)),
		    0, "mode %04o must still be read", (unsigned)modes[i]);
		cr_expect_eq(k.len, 5);
		snprintf(want, sizeof(want), "l7knockknock: warning: knock "
		    "file '%s' is accessible by group or others (mode %04o): "
		    "chmod 600 it\n", kf_path, (unsigned)modes[i]);
		cr_expect_str_eq(err, want, "mode %04o", (unsigned)modes[i]);
		unlink(kf_path);
		kf_path[0] = '\0';
	}
}

/* Modes private to the owner do not warn. */
Test(knockfile, read_private_modes_quiet, .fini = kf_cleanup)
{
	static const mode_t modes[] = { 0600, 0400, 0700, 0200 };
	char err[1024];
	struct knock k;
	size_t i;

	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		/* Only root can read a mode 0200 file. */
		if (modes[i] == 0200 && geteuid() != 0)
			continue;
		h_file_make(kf_path, "knock", "knock", 5, modes[i]);
		memset(&k, 0, sizeof(k));
		cr_expect_eq(h_read_captured(kf_read, kf_path, &k, err,
		    sizeof(err)),
		    0, "mode %04o", (unsigned)modes[i]);
		cr_expect_str_eq(err, "", "mode %04o", (unsigned)modes[i]);
		unlink(kf_path);
		kf_path[0] = '\0';
	}
}

/* The same two cases through Criterion's own stderr redirection. */
Test(knockfile, read_0644_warns_redirected, .init = cr_redirect_stderr,
    .fini = kf_cleanup)
{
	char want[512];
	struct knock k;

	h_file_make(kf_path, "knock", "hello\n", 6, 0644);
	cr_assert_eq(knockfile_read(kf_path, &k), 0);
	cr_expect_eq(k.len, 5);
	cr_expect_arr_eq(k.buf, "hello", 5);
	snprintf(want, sizeof(want), "l7knockknock: warning: knock file '%s' "
	    "is accessible by group or others (mode 0644): chmod 600 it\n",
	    kf_path);
	cr_expect_stderr_eq_str(want);
}

Test(knockfile, read_0600_silent_redirected, .init = cr_redirect_stderr,
    .fini = kf_cleanup)
{
	struct knock k;

	h_file_make(kf_path, "knock", "hello\n", 6, 0600);
	cr_assert_eq(knockfile_read(kf_path, &k), 0);
	cr_expect_eq(k.len, 5);
	cr_expect_stderr_eq_str("");
}

/* A FIFO, and a symlink to one, nobody writes to: refused at once. */
Test(knockfile, read_fifo_refused_without_blocking, .fini = kf_cleanup,
    .timeout = 10)
{
	char fifo[128], link[128], why[256];

	strcpy(kf_dir, "/tmp/l7kk-fifo-XXXXXX");
	cr_assert_neq(mkdtemp(kf_dir), NULL);
	snprintf(fifo, sizeof(fifo), "%s/fifo", kf_dir);
	snprintf(link, sizeof(link), "%s/link", kf_dir);
	cr_assert_eq(mkfifo(fifo, 0600), 0);
	cr_assert_eq(symlink(fifo, link), 0);
	snprintf(why, sizeof(why),
	    "cannot read knock file '%s': not a regular file", fifo);
	h_read_refused(kf_read, fifo, why);
	snprintf(why, sizeof(why),
	    "cannot read knock file '%s': not a regular file", link);
	h_read_refused(kf_read, link, why);
	unlink(link);
	unlink(fifo);
}
