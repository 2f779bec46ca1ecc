/*-------------------------------------------------------------------------
 * json.c
 *	  Just enough JSON for the client: a syntax check (RFC 8259) that gives
 *	  a clear message before anything reaches the server, string escaping
 *	  for JSON logs, and reading one string member of a NOTIFY payload.
 *-------------------------------------------------------------------------
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Deepest nesting accepted (the server's own limit is far higher). */
#define JSON_MAX_DEPTH 1000

typedef struct json_parser
{
	const char *start;
	const char *p;
	const char *error;
	int			depth;
} json_parser;

static bool parse_value(json_parser *jp);

/* Skips white space. */
static void
skip_ws(json_parser *jp)
{
	while (*jp->p == ' ' || *jp->p == '\t' || *jp->p == '\n' || *jp->p == '\r')
		jp->p++;
}

/* Records the first error. Returns false. */
static bool
fail(json_parser *jp, const char *error)
{
	if (jp->error == NULL)
		jp->error = error;
	return false;
}

/* Parses a string at jp->p (which is at the opening quote). */
static bool
parse_string(json_parser *jp)
{
	jp->p++;
	for (;;)
	{
		unsigned char c = (unsigned char) *jp->p;

		if (c == '\0')
			return fail(jp, "unterminated string");
		if (c < 0x20)
			return fail(jp, "control character in string (escape it)");
		if (c == '"')
		{
			jp->p++;
			return true;
		}
		if (c == '\\')
		{
			jp->p++;
			if (strchr("\"\\/bfnrt", *jp->p) != NULL && *jp->p != '\0')
				jp->p++;
			else if (*jp->p == 'u')
			{
				int			i;

				jp->p++;
				for (i = 0; i < 4; i++, jp->p++)
					if (strchr("0123456789abcdefABCDEF", *jp->p) == NULL || *jp->p == '\0')
						return fail(jp, "bad \\u escape in string");
			}
			else
				return fail(jp, "bad escape in string");
		}
		else
			jp->p++;
	}
}

/* Parses a number. */
static bool
parse_number(json_parser *jp)
{
	if (*jp->p == '-')
		jp->p++;
	if (*jp->p == '0')
		jp->p++;
	else if (*jp->p >= '1' && *jp->p <= '9')
		while (*jp->p >= '0' && *jp->p <= '9')
			jp->p++;
	else
		return fail(jp, "bad number");
	if (*jp->p == '.')
	{
		jp->p++;
		if (!(*jp->p >= '0' && *jp->p <= '9'))
			return fail(jp, "bad number: digits expected after \".\"");
		while (*jp->p >= '0' && *jp->p <= '9')
			jp->p++;
	}
	if (*jp->p == 'e' || *jp->p == 'E')
	{
		jp->p++;
		if (*jp->p == '+' || *jp->p == '-')
			jp->p++;
		if (!(*jp->p >= '0' && *jp->p <= '9'))
			return fail(jp, "bad number: digits expected in exponent");
		while (*jp->p >= '0' && *jp->p <= '9')
			jp->p++;
	}
	return true;
}

/* Parses an object or array (at its opening bracket). */
static bool
parse_container(json_parser *jp, char close)
{
	bool		object = (close == '}');

	if (++jp->depth > JSON_MAX_DEPTH)
		return fail(jp, "nested too deeply");
	jp->p++;
	skip_ws(jp);
	if (*jp->p == close)
	{
		jp->p++;
		jp->depth--;
		return true;
	}
	for (;;)
	{
		skip_ws(jp);
		if (object)
		{
			if (*jp->p != '"')
				return fail(jp, "object key (a string) expected");
			if (!parse_string(jp))
				return false;
			skip_ws(jp);
			if (*jp->p != ':')
				return fail(jp, "\":\" expected after object key");
			jp->p++;
		}
		if (!parse_value(jp))
			return false;
		skip_ws(jp);
		if (*jp->p == ',')
		{
			jp->p++;
			continue;
		}
		if (*jp->p == close)
		{
			jp->p++;
			jp->depth--;
			return true;
		}
		return fail(jp, object ? "\",\" or \"}\" expected" : "\",\" or \"]\" expected");
	}
}

/* Parses any value. */
static bool
parse_value(json_parser *jp)
{
	skip_ws(jp);
	switch (*jp->p)
	{
		case '{':
			return parse_container(jp, '}');
		case '[':
			return parse_container(jp, ']');
		case '"':
			return parse_string(jp);
		case 't':
			if (strncmp(jp->p, "true", 4) == 0)
				return (jp->p += 4, true);
			break;
		case 'f':
			if (strncmp(jp->p, "false", 5) == 0)
				return (jp->p += 5, true);
			break;
		case 'n':
			if (strncmp(jp->p, "null", 4) == 0)
				return (jp->p += 4, true);
			break;
		case '\0':
			return fail(jp, "value expected, found end of input");
		default:
			if (*jp->p == '-' || (*jp->p >= '0' && *jp->p <= '9'))
				return parse_number(jp);
	}
	return fail(jp, "value expected (object, array, string, number, true, false or null)");
}

/*
 * Checks that text is exactly one JSON value. On error returns false with
 * a message naming the line and column.
 */
bool
gj_json_check(const char *text, char *msg, size_t msglen)
{
	json_parser jp = {text, text, NULL, 0};
	int			line = 1;
	int			col = 1;
	const char *q;

	if (parse_value(&jp))
	{
		skip_ws(&jp);
		if (*jp.p == '\0')
			return true;
		fail(&jp, "unexpected text after the JSON value");
	}
	for (q = text; q < jp.p; q++)
	{
		if (*q == '\n')
			line++, col = 1;
		else
			col++;
	}
	snprintf(msg, msglen, "%s at line %d, column %d", jp.error, line, col);
	return false;
}

/* Appends s to out as a JSON string literal. */
void
gj_json_escape(gj_buf *out, const char *s)
{
	gj_buf_append(out, "\"", 1);
	for (; *s; s++)
	{
		unsigned char c = (unsigned char) *s;
		char		esc[8];

		switch (c)
		{
			case '"':
				gj_buf_append(out, "\\\"", 2);
				break;
			case '\\':
				gj_buf_append(out, "\\\\", 2);
				break;
			case '\n':
				gj_buf_append(out, "\\n", 2);
				break;
			case '\r':
				gj_buf_append(out, "\\r", 2);
				break;
			case '\t':
				gj_buf_append(out, "\\t", 2);
				break;
			default:
				if (c < 0x20)
				{
					snprintf(esc, sizeof(esc), "\\u%04x", c);
					gj_buf_puts(out, esc);
				}
				else
					gj_buf_append(out, s, 1);
		}
	}
	gj_buf_append(out, "\"", 1);
}

/*
 * Returns the value of string member key of the top-level object json
 * (malloc'd, escapes other than \" and \\ kept as they are, which is enough
 * to compare queue names), or NULL if there is none.
 */
char *
gj_json_get_string(const char *json, const char *key)
{
	json_parser jp = {json, json, NULL, 0};
	size_t		keylen = strlen(key);

	skip_ws(&jp);
	if (*jp.p != '{')
		return NULL;
	jp.p++;
	for (;;)
	{
		const char *kstart;
		const char *vstart;
		bool		match;

		skip_ws(&jp);
		if (*jp.p != '"')
			return NULL;
		kstart = jp.p + 1;
		if (!parse_string(&jp))
			return NULL;
		match = (size_t) (jp.p - 1 - kstart) == keylen &&
			strncmp(kstart, key, keylen) == 0;
		skip_ws(&jp);
		if (*jp.p != ':')
			return NULL;
		jp.p++;
		skip_ws(&jp);
		vstart = jp.p;
		if (!parse_value(&jp))
			return NULL;
		if (match && *vstart == '"')
		{
			gj_buf		b;
			const char *q;

			gj_buf_init(&b);
			gj_buf_append(&b, "", 0);
			for (q = vstart + 1; q < jp.p - 1; q++)
			{
				if (*q == '\\' && (q[1] == '"' || q[1] == '\\'))
					q++;
				gj_buf_append(&b, q, 1);
			}
			return b.data;
		}
		skip_ws(&jp);
		if (*jp.p != ',')
			return NULL;
		jp.p++;
	}
}
