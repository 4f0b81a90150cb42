// SPDX-License-Identifier: GPL-2.0
/*
 * A queue of bytes in chunks: what the agent holds for a descriptor that
 * cannot take it yet (a process's stdin, a ghost's stdout, a restorer's
 * image pipe).  Bytes are copied in once and written out from the chunks.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"

struct iochunk {
	struct iochunk *next;
	size_t off, len;
	uint8_t data[];
};

int iobuf_put(struct iobuf *b, const void *data, size_t len)
{
	struct iochunk *c;

	if (!len)
		return 0;
	c = malloc(sizeof(*c) + len);
	if (!c)
		return -ENOMEM;
	c->next = NULL;
	c->off = 0;
	c->len = len;
	memcpy(c->data, data, len);
	if (b->tail)
		b->tail->next = c;
	else
		b->head = c;
	b->tail = c;
	b->len += len;
	return 0;
}

size_t iobuf_peek(const struct iobuf *b, const uint8_t **data)
{
	if (!b->head)
		return 0;
	*data = b->head->data + b->head->off;
	return b->head->len - b->head->off;
}

void iobuf_drop(struct iobuf *b, size_t n)
{
	while (n && b->head) {
		struct iochunk *c = b->head;
		size_t k = c->len - c->off;

		if (k > n)
			k = n;
		c->off += k;
		b->len -= k;
		n -= k;
		if (c->off == c->len) {
			b->head = c->next;
			if (!b->head)
				b->tail = NULL;
			free(c);
		}
	}
}

ssize_t iobuf_write(struct iobuf *b, int fd)
{
	size_t total = 0;

	while (b->head) {
		struct iochunk *c = b->head;
		ssize_t n = write(fd, c->data + c->off, c->len - c->off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (total)
				break;
			return -errno;
		}
		iobuf_drop(b, (size_t)n);
		total += (size_t)n;
	}
	return (ssize_t)total;
}

size_t iobuf_take(struct iobuf *b, void *out, size_t max)
{
	size_t total = 0;

	while (b->head && total < max) {
		struct iochunk *c = b->head;
		size_t n = c->len - c->off;

		if (n > max - total)
			n = max - total;
		memcpy((uint8_t *)out + total, c->data + c->off, n);
		iobuf_drop(b, n);
		total += n;
	}
	return total;
}

void iobuf_free(struct iobuf *b)
{
	while (b->head) {
		struct iochunk *c = b->head;

		b->head = c->next;
		free(c);
	}
	b->tail = NULL;
	b->len = 0;
}
