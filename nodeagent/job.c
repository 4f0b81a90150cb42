// SPDX-License-Identifier: GPL-2.0
/*
 * The engine calls that block: a dump may be written by the caller itself
 * (a stopped target), and BPROC_IOC_GHOST_RESTORE returns only once the
 * ghost has read the whole image from a pipe the main loop feeds.  Each
 * such call runs on a detached thread of its own, which makes that one
 * ioctl and signals an eventfd; the main loop polls the eventfd.  The
 * thread touches nothing but the job, whose owner keeps it (and the ioctl's
 * argument) alive until job_finished() said true.
 */
#define LOG_PREFIX "job"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "../common/log.h"
#include "agent.h"

static void *job_thread(void *arg)
{
	struct job *j = arg;
	uint64_t one = 1;

	j->ret = ioctl(j->fd, j->request, j->arg);
	j->err = j->ret < 0 ? errno : 0;
	/* the eventfd write publishes ret and err to the main thread */
	if (write(j->efd, &one, sizeof(one)) != sizeof(one))
		pr_perror("job eventfd");
	return NULL;
}

int job_start(struct job *j, int fd, unsigned long request, void *arg)
{
	pthread_attr_t attr;
	pthread_t t;
	int err;

	j->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (j->efd < 0)
		return -errno;
	j->fd = fd;
	j->request = request;
	j->arg = arg;
	j->ret = 0;
	j->err = 0;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 64 << 10);
	err = pthread_create(&t, &attr, job_thread, j);
	pthread_attr_destroy(&attr);
	if (err) {
		close(j->efd);
		j->efd = -1;
		return -err;
	}
	j->running = true;
	return 0;
}

void job_watch(struct job *j, loop_fn fn, void *obj)
{
	if (j->running)
		loop_add(j->efd, POLLIN, fn, obj);
}

bool job_finished(struct job *j)
{
	uint64_t v;

	if (!j->running)
		return true;
	if (read(j->efd, &v, sizeof(v)) != sizeof(v))
		return false;
	close(j->efd);
	j->efd = -1;
	j->running = false;
	return true;
}
