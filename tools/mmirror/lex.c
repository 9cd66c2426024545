// SPDX-License-Identifier: MIT
/*
 * lex.c - cutting a scenario file into lines of words, pointing errors at
 * a column, and parsing the small values a word can hold.
 *
 * The lexer is line-oriented: a statement is one line, so a line is read
 * into a private NUL-terminated buffer (grown as needed: no line-length
 * limit) and split there.  Bytes the language has no use for (control
 * characters, NUL) are errors at their column rather than silently
 * skipped, so a corrupted file is reported, never half-run.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <mmirror/mm.h>
#include "parse_int.h"

/* Line @line (1-based) of the file, without its newline. */
static const char *find_line(const struct scn_parser *p, int line, int *len)
{
	const char *l = p->text, *end = p->text + p->len, *nl;

	while (--line > 0 && (nl = memchr(l, '\n', end - l)))
		l = nl + 1;
	nl = memchr(l, '\n', end - l);
	*len = (int)((nl ? nl : end) - l);
	if (*len && l[*len - 1] == '\r')
		--*len;
	return l;
}

static void show_line(struct scn_parser *p, int line, int col)
{
	int len, i;
	const char *l = find_line(p, line, &len);

	fputs("  ", p->err);
	for (i = 0; i < len; i++)
		fputc(isprint((unsigned char)l[i]) || l[i] == '\t' ? l[i] : '?',
		      p->err);
	fputs("\n  ", p->err);
	/* Keep tabs so the caret lines up under the same terminal. */
	for (i = 0; i < col - 1 && i < len; i++)
		fputc(l[i] == '\t' ? '\t' : ' ', p->err);
	fputs("^\n", p->err);
}

static void verror(struct scn_parser *p, int line, int col, const char *fmt,
		   va_list ap)
{
	if (p->failed)
		return;
	p->failed = true;
	fprintf(p->err, "%s:%d:%d: error: ", p->file, line, col);
	vfprintf(p->err, fmt, ap);
	fputc('\n', p->err);
	show_line(p, line, col);
}

void scn_error(struct scn_parser *p, int col, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verror(p, p->lineno, col, fmt, ap);
	va_end(ap);
}

void scn_error_at(struct scn_parser *p, int line, int col, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verror(p, line, col, fmt, ap);
	va_end(ap);
}

void *scn_alloc(struct scn_parser *p, size_t size, int col)
{
	void *m = calloc(1, size ? size : 1);

	if (!m)
		scn_error(p, col, "out of memory");
	return m;
}

char *scn_strndup(struct scn_parser *p, const char *s, size_t n, int col)
{
	char *d = scn_alloc(p, n + 1, col);

	if (d)
		memcpy(d, s, n);
	return d;
}

static bool push_word(struct scn_parser *p, char *s, size_t n, int col,
		      bool quoted)
{
	if (p->nw == p->wcap) {
		size_t cap = p->wcap ? 2 * p->wcap : 16;
		struct scn_word *w = realloc(p->w, cap * sizeof(*w));

		if (!w) {
			scn_error(p, col, "out of memory");
			return false;
		}
		p->w = w;
		p->wcap = cap;
	}
	s[n] = '\0';
	p->w[p->nw++] = (struct scn_word){ s, n, col, quoted };
	return true;
}

/* Split p->buf (one line, @n bytes) into words. */
static bool split_line(struct scn_parser *p, size_t n)
{
	char *b = p->buf;
	size_t i = 0, s;

	p->nw = 0;
	if (n && b[n - 1] == '\r')
		n--; /* CRLF files */
	while (i < n) {
		unsigned char c = b[i];

		if (c == ' ' || c == '\t') {
			i++;
		} else if (c == '#') {
			break;
		} else if (c == '"') {
			s = ++i;
			while (i < n && b[i] != '"' &&
			       isprint((unsigned char)b[i]))
				i++;
			if (i >= n) {
				scn_error(p, (int)s, "unterminated string");
				return false;
			}
			if (b[i] != '"') {
				scn_error(p, (int)i + 1,
					  "unexpected character in a string");
				return false;
			}
			if (!push_word(p, b + s, i - s, (int)s, true))
				return false;
			i++;
		} else if (!isgraph(c)) {
			scn_error(p, (int)i + 1,
				  "unexpected character (byte 0x%02x)", c);
			return false;
		} else {
			s = i;
			while (i < n && isgraph((unsigned char)b[i]) &&
			       b[i] != '#' && b[i] != '"')
				i++;
			c = i < n ? b[i] : ' ';
			if (c == '"') {
				scn_error(p, (int)i + 1,
					  "expected a space before '\"'");
				return false;
			}
			if (c != ' ' && c != '\t' && c != '#') {
				scn_error(p, (int)i + 1,
					  "unexpected character (byte 0x%02x)",
					  c);
				return false;
			}
			/* push_word() ends the word with a NUL over @c. */
			if (!push_word(p, b + s, i - s, (int)s + 1, false))
				return false;
			if (c == '#')
				break;
			i++;
		}
	}
	return true;
}

bool lex_next_line(struct scn_parser *p)
{
	while (!p->failed && p->pos < p->len) {
		const char *nl =
			memchr(p->text + p->pos, '\n', p->len - p->pos);
		size_t n = nl ? (size_t)(nl - (p->text + p->pos)) :
				p->len - p->pos;

		if (n + 2 > p->bufcap) {
			char *b = realloc(p->buf, n + 2);

			if (!b) {
				p->lineno++;
				p->pos += n + 1;
				scn_error(p, 1, "out of memory");
				return false;
			}
			p->buf = b;
			p->bufcap = n + 2;
		}
		memcpy(p->buf, p->text + p->pos, n);
		p->buf[n] = '\0';
		p->pos += n + (nl ? 1 : 0);
		p->lineno++;
		if (!split_line(p, n))
			return false;
		if (p->nw)
			return true;
	}
	return false;
}

bool word_is(const struct scn_word *w, const char *s)
{
	return !w->quoted && !strcmp(w->s, s);
}

bool lex_u64(struct scn_parser *p, const char *s, size_t n, int col, u64 *v)
{
	unsigned int base = 10, shift = 0;
	size_t i = 0;
	u64 x = 0;

	if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		i = 2;
	}
	if (n && base == 10 && strchr("KMG", s[n - 1])) {
		shift = s[n - 1] == 'K' ? 10 : s[n - 1] == 'M' ? 20 : 30;
		n--;
	}
	if (i == n) {
		scn_error(p, col + (int)i, "expected a number");
		return false;
	}
	for (; i < n; i++) {
		int d = isdigit((unsigned char)s[i]) ?
				s[i] - '0' :
			isxdigit((unsigned char)s[i]) && base == 16 ?
				tolower((unsigned char)s[i]) - 'a' + 10 :
				-1;

		if (d < 0) {
			scn_error(p, col + (int)i, "expected a digit, not '%c'",
				  s[i]);
			return false;
		}
		if (x > (~0ULL - d) / base) {
			scn_error(p, col, "number too large");
			return false;
		}
		x = x * base + d;
	}
	if (shift && x > (~0ULL >> shift)) {
		scn_error(p, col, "number too large");
		return false;
	}
	*v = x << shift;
	return true;
}

bool lex_duration(struct scn_parser *p, const struct scn_word *w, u64 *ns)
{
	size_t n = w->len;
	u64 v, mul = 1000000000ULL;

	if (n > 2 && !strcmp(w->s + n - 2, "ms")) {
		mul = 1000000ULL;
		n -= 2;
	} else if (n > 1 && w->s[n - 1] == 's') {
		n--;
	} else {
		scn_error(p, w->col, "expected a duration like 2s or 500ms");
		return false;
	}
	if (!lex_u64(p, w->s, n, w->col, &v))
		return false;
	if (v > ~0ULL / mul) {
		scn_error(p, w->col, "duration too long");
		return false;
	}
	*ns = v * mul;
	return true;
}

static const struct {
	const char *name;
	int err;
} errnos[] = {
	{ "EFAULT", EFAULT },	      { "EPERM", EPERM },
	{ "EINVAL", EINVAL },	      { "ENOMEM", ENOMEM },
	{ "EACCES", EACCES },	      { "EEXIST", EEXIST },
	{ "EBUSY", EBUSY },	      { "EAGAIN", EAGAIN },
	{ "ENOENT", ENOENT },	      { "ENODEV", ENODEV },
	{ "EOPNOTSUPP", EOPNOTSUPP },
};

const char *scn_errno_name(int err)
{
	for (size_t i = 0; i < ARRAY_SIZE(errnos); i++)
		if (errnos[i].err == err)
			return errnos[i].name;
	return NULL;
}

bool lex_errno(struct scn_parser *p, const char *s, size_t n, int col, int *err)
{
	for (size_t i = 0; i < ARRAY_SIZE(errnos); i++) {
		if (n == strlen(errnos[i].name) + 1 && s[0] == '-' &&
		    !strncmp(s + 1, errnos[i].name, n - 1)) {
			*err = errnos[i].err;
			return true;
		}
	}
	scn_error(p, col,
		  "unknown error '%.*s' (expected -EFAULT, -EPERM, "
		  "-EINVAL, -ENOMEM, -EACCES, -EEXIST, -EBUSY, -EAGAIN, "
		  "-ENOENT, -ENODEV or -EOPNOTSUPP)",
		  (int)n, s);
	return false;
}

bool lex_prot(struct scn_parser *p, const struct scn_word *w,
	      unsigned long *prot)
{
	static const char *const names[] = { "none", "r", "rw", "rx", "rwx" };
	static const unsigned long vals[] = {
		PROT_NONE, PROT_READ, PROT_READ | PROT_WRITE,
		PROT_READ | PROT_EXEC, PROT_READ | PROT_WRITE | PROT_EXEC
	};

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		if (word_is(w, names[i])) {
			*prot = vals[i];
			return true;
		}
	}
	scn_error(p, w->col,
		  "expected a protection (none, r, rw, rx, rwx), "
		  "not '%s'",
		  w->s);
	return false;
}

bool lex_name(struct scn_parser *p, const struct scn_word *w)
{
	if (w->quoted || !(isalpha((unsigned char)w->s[0]) || w->s[0] == '_'))
		goto bad;
	for (size_t i = 1; i < w->len; i++)
		if (!isalnum((unsigned char)w->s[i]) && w->s[i] != '_' &&
		    w->s[i] != '-')
			goto bad;
	return true;
bad:
	scn_error(p, w->col,
		  "'%s' is not a name (a letter, then letters, "
		  "digits, '_' or '-')",
		  w->s);
	return false;
}
