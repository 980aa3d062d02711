#ifndef CHECK_H_
#define CHECK_H_

struct conf;

/**
 * check_run(C):
 * --check, as "nginx -t": with ${C} parsed and valid, look up the user the
 * relay runs as, then in a child process that has become that user (when
 * run as root) read every route's knock or key as the relay will, check
 * that the configuration file (if any) is readable for a reload, and
 * resolve every backend; nothing is bound.  Each problem is reported in
 * one line.  In the parent, return 0 if there was none, else EX_CONFIG;
 * in the child (check_run returns there too), return the child's status:
 * the caller exits with it in both.
 */
int check_run(const struct conf *);

#endif /* !CHECK_H_ */
