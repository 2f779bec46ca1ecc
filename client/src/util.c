/*-------------------------------------------------------------------------
 * util.c
 *	  Clocks, allocation, growable strings and text clean-up for the
 *	  goodjob client library.
 *-------------------------------------------------------------------------
 */
#include "internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Returns monotonic time in seconds. */
double
gj_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/*
 * Returns seconds as a poll() timeout in milliseconds, rounded up (so a
 * wait never ends just before its deadline): -1 for infinity, at most a day.
 */
int
gj_poll_ms(double seconds)
{
	double		ms = seconds * 1000.0;
	int			whole;

	if (isinf(seconds) || ms > 86400000.0)
		return isinf(seconds) ? -1 : 86400000;
	if (ms <= 0)
		return 0;
	whole = (int) ms;
	return whole < ms ? whole + 1 : whole;
}

/* Writes the wall-clock time as ISO 8601 UTC with milliseconds. */
void
gj_format_wall_time(char *out, size_t outlen)
{
	struct timespec ts;
	struct tm	tm;
	char		date[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, outlen, "%s.%03ldZ", date, ts.tv_nsec / 1000000);
}

/* Returns size bytes of memory, or aborts when there is none. */
void *
gj_malloc(size_t size)
{
	void	   *p = malloc(size ? size : 1);

	if (p == NULL)
	{
		fputs("goodjob: out of memory\n", stderr);
		abort();
	}
	return p;
}

/* Returns a malloc'd copy of s. */
char *
gj_strdup(const char *s)
{
	return gj_strndup(s, strlen(s));
}

/* Returns a malloc'd copy of the first n bytes of s. */
char *
gj_strndup(const char *s, size_t n)
{
	char	   *p = gj_malloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

/* Returns a malloc'd formatted string. */
char *
gj_vprintf(const char *fmt, va_list ap)
{
	va_list		ap2;
	char	   *s;
	int			n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		n = 0;
	s = gj_malloc((size_t) n + 1);
	vsnprintf(s, (size_t) n + 1, fmt, ap);
	return s;
}

/* Returns a malloc'd formatted string. */
char *
gj_printf(const char *fmt,...)
{
	va_list		ap;
	char	   *s;

	va_start(ap, fmt);
	s = gj_vprintf(fmt, ap);
	va_end(ap);
	return s;
}

/* Makes b an empty string. */
void
gj_buf_init(gj_buf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

/* Appends n bytes of s to b. */
void
gj_buf_append(gj_buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap)
	{
		size_t		cap = b->cap ? b->cap : 64;
		char	   *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->data, cap);
		if (p == NULL)
		{
			fputs("goodjob: out of memory\n", stderr);
			abort();
		}
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

/* Appends the string s to b. */
void
gj_buf_puts(gj_buf *b, const char *s)
{
	gj_buf_append(b, s, strlen(s));
}

/* Appends formatted text to b. */
void
gj_buf_printf(gj_buf *b, const char *fmt,...)
{
	va_list		ap;
	char	   *s;

	va_start(ap, fmt);
	s = gj_vprintf(fmt, ap);
	va_end(ap);
	gj_buf_puts(b, s);
	free(s);
}

/* Frees b's storage. */
void
gj_buf_free(gj_buf *b)
{
	free(b->data);
	gj_buf_init(b);
}

/* Returns the length of the valid UTF-8 sequence at s (0 if invalid). */
static size_t
utf8_sequence_length(const unsigned char *s, size_t avail)
{
	size_t		n;
	size_t		i;
	unsigned int cp;

	if (s[0] < 0x80)
		return s[0] != 0 ? 1 : 0;
	if ((s[0] & 0xE0) == 0xC0)
		n = 2, cp = s[0] & 0x1F;
	else if ((s[0] & 0xF0) == 0xE0)
		n = 3, cp = s[0] & 0x0F;
	else if ((s[0] & 0xF8) == 0xF0)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (n > avail)
		return 0;
	for (i = 1; i < n; i++)
	{
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	/* overlong forms, surrogates, beyond U+10FFFF */
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) ||
		(n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
		(cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return n;
}

/*
 * Replaces bytes of s[0..len) that are not valid UTF-8 (and NULs) with '?',
 * so that the text can be stored whatever the handler printed.
 */
void
gj_utf8_sanitize(char *s, size_t len)
{
	size_t		i = 0;

	while (i < len)
	{
		size_t		n = utf8_sequence_length((unsigned char *) s + i, len - i);

		if (n == 0)
		{
			s[i] = '?';
			n = 1;
		}
		i += n;
	}
}

/*
 * Makes s one line: control characters become spaces, runs of white space
 * one space, and white space at either end goes.
 */
void
gj_one_line(char *s)
{
	char	   *out = s;
	const char *in = s;
	bool		space = true;	/* drops leading white space */

	for (; *in; in++)
	{
		if ((unsigned char) *in < 0x20 || *in == ' ')
		{
			if (!space)
				*out++ = ' ';
			space = true;
		}
		else
		{
			*out++ = *in;
			space = false;
		}
	}
	if (out > s && out[-1] == ' ')
		out--;
	*out = '\0';
}

/* Parses a non-negative number of seconds ("30", "0.5"). */
bool
gj_parse_seconds(const char *s, double *out)
{
	char	   *end;
	double		v;

	if (s == NULL || *s == '\0')
		return false;
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || *end != '\0' || end == s || !isfinite(v) || v < 0 ||
		v > 365.0 * 86400)
		return false;
	*out = v;
	return true;
}

/* Parses a decimal integer within [min, max]. */
bool
gj_parse_int64(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char	   *end;
	long long	v;

	if (s == NULL || *s == '\0')
		return false;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s || v < min || v > max)
		return false;
	*out = (int64_t) v;
	return true;
}
