#ifndef GENKEY_H_
#define GENKEY_H_

struct conf;

/**
 * genkey_write(path, C):
 * Make a new key file ${path}: 32 random bytes from libsodium in the
 * format keyfile_read() reads (44 characters of base64 and a newline),
 * mode 0600, owned (when run as root) by the user the relay runs as
 * (${C}'s --user, else its default).  An existing ${path} is never
 * overwritten (nor followed if a symbolic link).  Return 0 or an exit
 * status (EX_CANTCREAT if ${path} exists or cannot be made, EX_USAGE for
 * an unknown user, EX_IOERR, EX_SOFTWARE), reported in one line naming
 * ${path}.
 */
int genkey_write(const char *, const struct conf *);

#endif /* !GENKEY_H_ */
