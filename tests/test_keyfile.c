/*
 * Unit tests of src/keyfile.c: the contents rule (32 bytes as 44 base64
 * characters, one trailing newline) and reading real files (through
 * src/secretfile.c, shared with the knock file), with the messages.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "keyfile.h"

/* The key 00 01 02 ... 1f, as Python's base64.b64encode writes it. */
#define K0	"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

#define S(s)	s, sizeof(s) - 1

/* A keyfile_parse() case: contents, expected result. */
struct kp_case {
	const char * name;
	const char * buf;
	size_t len;
	int rc;
};

static const struct kp_case kp_cases[] = {
	{ "plain", S(K0), KEYFILE_OK },
	{ "newline", S(K0 "\n"), KEYFILE_OK },
	{ "crlf", S(K0 "\r\n"), KEYFILE_OK },
	{ "two newlines", S(K0 "\n\n"), KEYFILE_BAD },
	{ "crlf twice", S(K0 "\r\n\r\n"), KEYFILE_BAD },
	{ "lone cr", S(K0 "\r"), KEYFILE_BAD },
	{ "trailing space", S(K0 " "), KEYFILE_BAD },
	{ "trailing space nl", S(K0 " \n"), KEYFILE_BAD },
	{ "leading space", S(" " K0), KEYFILE_BAD },
	{ "leading newline", S("\n" K0), KEYFILE_BAD },
	{ "trailing nul", S(K0 "\0"), KEYFILE_BAD },
	{ "empty", S(""), KEYFILE_BAD },
	{ "newline only", S("\n"), KEYFILE_BAD },
	/* 31 bytes: 44 characters ending "==". */
	{ "31 bytes", S("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg=="),
	    KEYFILE_BAD },
	/* 33 bytes: 44 characters, no padding. */
	{ "33 bytes", S("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g"),
	    KEYFILE_BAD },
	{ "32 bytes unpadded", S("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"),
	    KEYFILE_BAD },
	{ "32 bytes unpadded nl",
	    S("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\n"), KEYFILE_BAD },
	{ "48 bytes", S("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g"
	    "ISIjJCUmJygpKissLS4v"), KEYFILE_BAD },
	/* Non-zero bits after the 256th: not the canonical encoding. */
	{ "non-canonical", S("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9="),
	    KEYFILE_BAD },
	{ "url-safe '-'", S("-AECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="),
	    KEYFILE_BAD },
	{ "url-safe '_'", S("_AECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="),
	    KEYFILE_BAD },
	{ "inner space", S("AAECAwQFBgcICQoL DA0ODxAREhMUFRYXGBkaGxwdHh8="),
	    KEYFILE_BAD },
	{ "inner newline", S("AAECAwQFBgcICQoL\nA0ODxAREhMUFRYXGBkaGxwdHh8="),
	    KEYFILE_BAD },
};

Test(keyfile, parse_table)
{
	uint8_t key[KEYFILE_KEYLEN], want[KEYFILE_KEYLEN];
	size_t i;
	int rc;

	for (i = 0; i < KEYFILE_KEYLEN; i++)
		want[i] = (uint8_t)i;
	for (i = 0; i < sizeof(kp_cases) / sizeof(kp_cases[0]); i++) {
		const struct kp_case * c = &kp_cases[i];

		memset(key, 0xaa, sizeof(key));
		rc = keyfile_parse(c->buf, c->len, key);
		cr_expect_eq(rc, c->rc, "%s: keyfile_parse = %d, expected %d",
		    c->name, rc, c->rc);
		if (c->rc == KEYFILE_OK)
			cr_expect_arr_eq(key, want, sizeof(key), "%s", c->name);
		else
			cr_expect_arr_eq(key, (uint8_t[KEYFILE_KEYLEN]){ 0 },
			    sizeof(key), "%s: key not zeroed", c->name);
	}
}

/* Any other byte at any position is refused. */
Test(keyfile, parse_every_bad_byte)
{
	static const char bytes[] = "-_=. \t\n\r*\"\\\x80\xc3\xff";
	uint8_t key[KEYFILE_KEYLEN];
	char buf[KEYFILE_B64LEN + 1];
	size_t i, j;

	for (i = 0; i < KEYFILE_B64LEN; i++)
		for (j = 0; j < sizeof(bytes) - 1; j++) {
			memcpy(buf, K0, sizeof(buf));
			if (buf[i] == bytes[j])
				continue;
			buf[i] = bytes[j];
			cr_expect_eq(keyfile_parse(buf, KEYFILE_B64LEN, key),
			    KEYFILE_BAD, "byte 0x%02x at %zu",
			    (unsigned)(uint8_t)bytes[j], i);
		}
	/* A NUL byte too. */
	memcpy(buf, K0, sizeof(buf));
	buf[10] = '\0';
	cr_expect_eq(keyfile_parse(buf, KEYFILE_B64LEN, key), KEYFILE_BAD);
}

Test(keyfile, format_round_trip)
{
	uint8_t key[KEYFILE_KEYLEN], back[KEYFILE_KEYLEN];
	char line[KEYFILE_B64LEN + 2];
	size_t i, k;

	for (i = 0; i < KEYFILE_KEYLEN; i++)
		key[i] = (uint8_t)i;
	keyfile_format(key, line);
	cr_expect_str_eq(line, K0 "\n");
	for (k = 0; k < 50; k++) {
		for (i = 0; i < KEYFILE_KEYLEN; i++)
			key[i] = (uint8_t)(k * 37 + i * i * 11 + (k >> 1));
		keyfile_format(key, line);
		cr_expect_eq(strlen(line), KEYFILE_B64LEN + 1);
		cr_expect_eq(keyfile_parse(line, strlen(line), back),
		    KEYFILE_OK, "'%s'", line);
		cr_expect_arr_eq(back, key, sizeof(key));
	}
}

/* Temporary key files. */
static char kf_path[H_PATH_MAX] = "";

static void
kf_cleanup(void)
{

	h_file_remove(kf_path);
}

/* keyfile_read() for the harness: into ${key}, or a scratch key if NULL. */
static int
kf_read(const char * path, void * key)
{
	uint8_t scratch[KEYFILE_KEYLEN];

	return (keyfile_read(path, key != NULL ? key : scratch));
}

Test(keyfile, read_ok_private_quiet, .fini = kf_cleanup)
{
	uint8_t key[KEYFILE_KEYLEN];
	char err[512];
	size_t i;

	h_file_make(kf_path, "key", K0 "\n", sizeof(K0), 0600);
	cr_assert_eq(h_read_captured(kf_read, kf_path, key, err,
	    sizeof(err)), 0);
	for (i = 0; i < KEYFILE_KEYLEN; i++)
		cr_expect_eq(key[i], i);
	cr_expect_str_eq(err, "", "a mode 0600 file must not warn");
}

Test(keyfile, read_accessible_modes_warn, .fini = kf_cleanup)
{
	static const mode_t modes[] = { 0644, 0640, 0604, 0660, 0666, 0601 };
	uint8_t key[KEYFILE_KEYLEN];
	char err[1024], want[1024];
	size_t i;

	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		h_file_make(kf_path, "key", K0, sizeof(K0) - 1, modes[i]);
		cr_expect_eq(h_read_captured(kf_read, kf_path, key, err,
		    sizeof(err)),
		    0, "mode %04o must still be read", (unsigned)modes[i]);
		cr_expect_eq(key[31], 31);
		snprintf(want, sizeof(want), "l7knockknock: warning: key file "
		    "'%s' is accessible by group or others (mode %04o): "
		    "chmod 600 it\n", kf_path, (unsigned)modes[i]);
		cr_expect_str_eq(err, want, "mode %04o", (unsigned)modes[i]);
		kf_cleanup();
	}
}

Test(keyfile, read_bad_contents_refused, .fini = kf_cleanup)
{
	static const char * bodies[] = {
		"", "\n", K0 "\n\n", K0 "X",
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==\n",
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g\n",
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygp\n",
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdH\xc3\xa9=",
	};
	char why[1024];
	size_t i;

	for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		h_file_make(kf_path, "key", bodies[i], strlen(bodies[i]), 0600);
		snprintf(why, sizeof(why), "key file '%s' is not a key: "
		    "expected 32 bytes as 44 characters of base64 (one "
		    "trailing newline allowed)", kf_path);
		h_read_refused(kf_read, kf_path, why);
		kf_cleanup();
	}
}

Test(keyfile, read_missing_names_path)
{
	h_read_refused(kf_read, "/tmp/l7kk-no-such-dir/key",
	    "cannot read key file '/tmp/l7kk-no-such-dir/key': "
	    "No such file or directory");
}

Test(keyfile, read_devnull_refused)
{
	h_read_refused(kf_read, "/dev/null",
	    "cannot read key file '/dev/null': not a regular file");
}

Test(keyfile, read_directory_refused)
{
	h_read_refused(kf_read, "/tmp",
	    "cannot read key file '/tmp': not a regular file");
}

/* A FIFO without a writer: refused at once, not waited on. */
Test(keyfile, read_fifo_refused_without_blocking, .timeout = 10,
    .fini = kf_cleanup)
{
	char why[256];
	int fd;

	strcpy(kf_path, "/tmp/l7kk-fifo-XXXXXX");
	cr_assert_neq(fd = mkstemp(kf_path), -1);
	close(fd);
	cr_assert_eq(unlink(kf_path), 0);
	cr_assert_eq(mkfifo(kf_path, 0600), 0);
	alarm(5);		/* A blocking open would hang here. */
	snprintf(why, sizeof(why),
	    "cannot read key file '%s': not a regular file", kf_path);
	h_read_refused(kf_read, kf_path, why);
	alarm(0);
}
