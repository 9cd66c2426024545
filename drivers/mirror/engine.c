// SPDX-License-Identifier: MIT
/*
 * engine.c - the mirror device's engines: kthreads that execute device
 * reads, writes and faults submitted by any number of threads.
 *
 * A submitter puts a job on the device queue and sleeps until an engine
 * has finished it.  An engine takes the oldest job and walks it page by
 * page: under the driver mutex it looks the page up in the device table
 * and, if the entry is there (and writable, for a write), accesses the
 * frame through the oracle.  Otherwise it drops the mutex, faults a batch
 * of pages from there (dmirror_fault_range(): the collision-retry loop)
 * and looks again.  An entry can vanish between the fault and the look
 * (an invalidation ran): the engine simply faults again.
 *
 * Why the job carries a done flag and the device a wait queue, instead of
 * a struct completion in the job: the job lives on the submitter's stack,
 * and complete() still reads the completion after the increment that lets
 * the waiter return (to decide whether to wake it).  wake_up() on the
 * device's done_wq touches only the device, which outlives every engine.
 *
 * Engines hold a user reference on the mm (mmget_not_zero) for the whole
 * job: a job on an exited mm fails with -EFAULT, and the address space
 * cannot be torn down under a fault.  They never hold the mutex across
 * hmm_range_fault() (lock order: mmap_lock -> mutex; mirror.c).
 */
#include <mmirror/mm.h>

#include "mirror_priv.h"

/* --- one page ---------------------------------------------------------- */

/*
 * Access [va, va + len) (within one page) through the device table, as
 * job @job asks, at @buf.  Return 1 if the entry was missing (or read-only
 * for a write) and nothing was accessed, else check_dev_*()'s result.
 * Context: takes dm->mutex.
 */
static int dmirror_access_locked(struct dmirror *dm, struct dmirror_job *job,
				 unsigned long va, char *buf, size_t len)
{
	bool write = job->op == DMIRROR_OP_WRITE;
	unsigned long ent;
	int ret = 1;

	mutex_lock(&dm->mutex);
	ent = dpt_lookup(&dm->pt, va & PAGE_MASK);
	if ((ent & DPTE_VALID) && (!write || (ent & DPTE_WRITE))) {
		unsigned long pfn = ent & DPTE_PFN_MASK;

		/* Under the mutex: no invalidation of va can complete its
		 * callback while the device uses the entry. */
		if (write) {
			ret = check_dev_write(&dm->cdev, dm->mm, va, pfn, buf,
					      len);
			atomic_long_inc(&dm->writes);
		} else {
			ret = check_dev_read(&dm->cdev, dm->mm, va, pfn, buf,
					     len);
			atomic_long_inc(&dm->reads);
		}
	}
	mutex_unlock(&dm->mutex);
	return ret;
}

/*
 * Fault the pages from the one at @va up to the job's end, at most a batch.
 * A batch that fails is retried as the single page at @va, so the error
 * is that page's own and the bytes before it are still accessed.
 */
static int dmirror_fault_for(struct dmirror_engine *eng,
			     struct dmirror_job *job, unsigned long va)
{
	bool write = job->op == DMIRROR_OP_WRITE;
	unsigned long start = va & PAGE_MASK;
	unsigned long end = ALIGN_UP(job->end, PAGE_SIZE);
	int ret;

	end = min(end, start + DMIRROR_FAULT_BATCH * PAGE_SIZE);
	ret = dmirror_fault_range(eng, start, end, write);
	if (ret && end - start > PAGE_SIZE)
		ret = dmirror_fault_range(eng, start, start + PAGE_SIZE, write);
	return ret;
}

/* A READ or WRITE job, page by page.  Return 0 or the first error. */
static int dmirror_do_access(struct dmirror_engine *eng,
			     struct dmirror_job *job)
{
	char *buf = job->buf;
	unsigned long va = job->start;

	while (va < job->end) {
		size_t len = min(job->end, (va & PAGE_MASK) + PAGE_SIZE) - va;
		int ret = dmirror_access_locked(eng->dm, job, va, buf, len);

		if (ret == 1)
			ret = dmirror_fault_for(eng, job, va);
		else if (!ret) {
			va += len;
			buf += len;
		}
		if (ret)
			return ret;
	}
	return 0;
}

/* A FAULT job: [start, end) page aligned, in batches. */
static int dmirror_do_fault(struct dmirror_engine *eng, struct dmirror_job *job)
{
	for (unsigned long s = job->start; s < job->end;) {
		unsigned long e =
			min(job->end, s + DMIRROR_FAULT_BATCH * PAGE_SIZE);
		int ret = dmirror_fault_range(eng, s, e, job->write);

		if (ret)
			return ret;
		s = e;
	}
	return 0;
}

static int dmirror_run_job(struct dmirror_engine *eng, struct dmirror_job *job)
{
	struct mm_struct *mm = eng->dm->mm;
	int ret;

	/* The process may be exiting: no device access to a dying mm. */
	if (!mmget_not_zero(mm))
		return -EFAULT;
	if (job->op == DMIRROR_OP_FAULT)
		ret = dmirror_do_fault(eng, job);
	else
		ret = dmirror_do_access(eng, job);
	/* May be the last user: tears the mm down (our callback runs);
	 * we hold no lock here. */
	mmput(mm);
	return ret;
}

/* --- the queue --------------------------------------------------------- */

/* Is there work, or time to stop?  Read without the lock (wait_event). */
static bool dmirror_engine_wake(struct dmirror *dm)
{
	/* Pair with the WRITE_ONCEs in dmirror_submit() / _dequeue() and
	 * dmirror_engines_stop(). */
	return READ_ONCE(dm->nr_queued) || READ_ONCE(dm->stopping);
}

static struct dmirror_job *dmirror_dequeue(struct dmirror *dm)
{
	struct dmirror_job *job;

	spin_lock(&dm->queue_lock);
	job = list_first_entry_or_null(&dm->queue, struct dmirror_job, node);
	if (job) {
		list_del(&job->node);
		WRITE_ONCE(dm->nr_queued, dm->nr_queued - 1);
	}
	spin_unlock(&dm->queue_lock);
	return job;
}

static int dmirror_engine_fn(void *data)
{
	struct dmirror_engine *eng = data;
	struct dmirror *dm = eng->dm;
	struct dmirror_job *job;

	for (;;) {
		wait_event(dm->queue_wq, dmirror_engine_wake(dm));
		job = dmirror_dequeue(dm);
		if (!job) {
			/* Stop only with the queue drained. */
			if (READ_ONCE(dm->stopping))
				return 0;
			continue;
		}
		job->ret = dmirror_run_job(eng, job);
		/* Release: the submitter's acquire of done sees ret.  The
		 * job is the submitter's from here on: not touched again. */
		smp_store_release(&job->done, 1);
		wake_up(&dm->done_wq);
	}
}

/* Queue @job and sleep until an engine has finished it. */
static int dmirror_submit(struct dmirror *dm, struct dmirror_job *job)
{
	job->done = 0;
	job->ret = 0;
	spin_lock(&dm->queue_lock);
	if (WARN_ON(READ_ONCE(dm->stopping))) {
		spin_unlock(&dm->queue_lock);
		return -EINVAL; /* a call racing with dmirror_destroy() */
	}
	list_add_tail(&job->node, &dm->queue);
	WRITE_ONCE(dm->nr_queued, dm->nr_queued + 1);
	spin_unlock(&dm->queue_lock);
	wake_up(&dm->queue_wq);
	/* Acquire: pairs with the engine's release store of done. */
	wait_event(dm->done_wq, smp_load_acquire(&job->done));
	return job->ret;
}

/**
 * dmirror_engines_start() - start the device's nr_engines engine threads
 * @dm: the device, its queue initialised
 *
 * Context: may sleep.  Return 0, or kthread_run()'s error with every
 * engine started so far stopped again.
 */
int dmirror_engines_start(struct dmirror *dm)
{
	for (unsigned int i = 0; i < dm->nr_engines; i++) {
		struct task_struct *t = kthread_run(
			dmirror_engine_fn, &dm->engines[i], "dmirror%u", i);

		if (IS_ERR(t)) {
			dmirror_engines_stop(dm);
			return PTR_ERR(t);
		}
		dm->engines[i].task = t;
	}
	return 0;
}

/**
 * dmirror_engines_stop() - finish the queued jobs and stop the engines
 * @dm: the device
 *
 * Context: may sleep; no job may be submitted from now on.
 */
void dmirror_engines_stop(struct dmirror *dm)
{
	spin_lock(&dm->queue_lock);
	/* Read by dmirror_engine_wake() and dmirror_submit(). */
	WRITE_ONCE(dm->stopping, true);
	spin_unlock(&dm->queue_lock);
	wake_up_all(&dm->queue_wq);
	for (unsigned int i = 0; i < dm->nr_engines; i++) {
		if (!dm->engines[i].task)
			continue;
		kthread_stop(dm->engines[i].task);
		dm->engines[i].task = NULL;
	}
}

/**
 * dmirror_user_range_ok() - is [start, start + len) inside @dm's address
 * space without wrapping?
 * @dm: the device
 * @start: first byte
 * @len: bytes
 */
bool dmirror_user_range_ok(struct dmirror *dm, unsigned long start,
			   unsigned long len)
{
	return start + len >= start && start + len <= dm->mm->task_size;
}

/* --- entry points ------------------------------------------------------ */

/**
 * dmirror_read() - the device reads @len bytes at @va into @buf
 * @dm: the device
 * @va: any alignment
 * @buf: @len bytes
 * @len: 0 does nothing
 *
 * An engine does it, faulting missing entries; the caller sleeps.
 * Context: may sleep; no driver or mm lock held.  Any number of threads.
 * Return: 0; -EFAULT (no VMA, PROT_NONE, the mm exited); -ENOMEM;
 * -EINVAL (NULL, a range that wraps or leaves the address space).  On an
 * error the pages before the failing one may have been read.
 */
int dmirror_read(struct dmirror *dm, unsigned long va, void *buf, size_t len)
{
	struct dmirror_job job = {
		.op = DMIRROR_OP_READ,
		.start = va,
		.end = va + len,
		.buf = buf,
	};

	if (!dm || !buf || !dmirror_user_range_ok(dm, va, len))
		return -EINVAL;
	return len ? dmirror_submit(dm, &job) : 0;
}

/**
 * dmirror_write() - the device writes @len bytes of @buf at @va
 * @dm: the device
 * @va: any alignment
 * @buf: @len bytes
 * @len: 0 does nothing
 *
 * As dmirror_read(), faulting entries writable (breaking COW).
 * Return: as dmirror_read(), and -EPERM for memory the CPU may not write
 * (a VMA without VM_WRITE: hmm_range_fault's answer).
 */
int dmirror_write(struct dmirror *dm, unsigned long va, const void *buf,
		  size_t len)
{
	struct dmirror_job job = {
		.op = DMIRROR_OP_WRITE,
		.start = va,
		.end = va + len,
		/* Only read from: the access direction is in op. */
		.buf = (void *)buf,
	};

	if (!dm || !buf || !dmirror_user_range_ok(dm, va, len))
		return -EINVAL;
	return len ? dmirror_submit(dm, &job) : 0;
}

/**
 * dmirror_fault() - fault [start, end) into the device table
 * @dm: the device
 * @start: page aligned
 * @end: page aligned, >= @start
 * @write: writable entries (breaks COW)
 *
 * Context: may sleep.  Return: as dmirror_write() (-EPERM only if @write);
 * -EINVAL also for unaligned bounds.
 */
int dmirror_fault(struct dmirror *dm, unsigned long start, unsigned long end,
		  bool write)
{
	struct dmirror_job job = {
		.op = DMIRROR_OP_FAULT,
		.start = start,
		.end = end,
		.write = write,
	};

	if (!dm || !IS_ALIGNED(start, PAGE_SIZE) ||
	    !IS_ALIGNED(end, PAGE_SIZE) || end < start ||
	    !dmirror_user_range_ok(dm, start, end - start))
		return -EINVAL;
	return end > start ? dmirror_submit(dm, &job) : 0;
}
