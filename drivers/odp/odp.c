// SPDX-License-Identifier: MIT
/*
 * odp.c - the ODP NIC: its DMA engine thread, posting DMA work and
 * waiting for it, statistics.  Memory regions are in odp_mr.c.
 *
 * THE DMA ENGINE
 *
 *   poster (odp_dma_read/write)          engine (one kthread per NIC)
 *   lock dev; MR dying? -EFAULT
 *   in_flight++; queue work; unlock
 *   wake_up(engine_wq)  ---------------> pop work
 *   wait_for_completion(work.done)       for each page of the DMA:
 *                                          lock umem_mutex
 *                                          entry valid (and writable)?
 *                                            check_dev_read/write
 *                                            unlock; next page
 *                                          unlock; fault; retry page
 *                                        in_flight--; wake_up(mr_wq)
 *                    <-------------------complete(work.done)
 *
 * The engine never touches the MR after in_flight-- (dereg may free it
 * as soon as it reads zero), and the work item lives on the poster's
 * stack until complete().  The wake-up for dereg goes to a queue of the
 * NIC for the same reason: the NIC outlives its MRs.
 */
#include <stdio.h>
#include <string.h>
#include <mmirror/mm.h>
#include <mmirror/slab.h>
#include "odp_internal.h"

/* One posted DMA, on the poster's stack. */
struct odp_work {
	struct list_head node; /* on dev->queue, under dev->lock */
	struct odp_mr *mr;
	unsigned long va;
	char *buf;
	size_t len;
	bool write;
	int ret; /* written by the engine before complete() */
	struct completion done;
};

/* ==== the engine ========================================================= */

/*
 * One page chunk of a DMA: through the page list under umem_mutex, or
 * fault the rest of the DMA in and try again.
 */
static int odp_engine_page(struct odp_work *w, unsigned long va, char *buf,
			   size_t n, unsigned long dma_end)
{
	struct odp_mr *mr = w->mr;
	struct odp_dev *dev = mr->dev;
	unsigned long idx = (va - mr->va) >> PAGE_SHIFT, faulted;
	struct odp_pte *pte = &mr->pages[idx];
	int ret;

	for (;;) {
		mutex_lock(&mr->umem_mutex);
		if (pte->valid && (!w->write || pte->writable)) {
			ret = w->write ? check_dev_write(&dev->cdev, mr->mm, va,
							 pte->pfn, buf, n) :
					 check_dev_read(&dev->cdev, mr->mm, va,
							pte->pfn, buf, n);
			mutex_unlock(&mr->umem_mutex);
			return ret;
		}
		mutex_unlock(&mr->umem_mutex);
		/* A missing page usually means its neighbours are missing
		 * too: fault the rest of this DMA in one go. */
		ret = odp_mr_fault(mr, va & PAGE_MASK, PAGE_ALIGN(dma_end),
				   w->write, &faulted);
		if (ret)
			return ret;
		atomic_long_add(faulted, &dev->page_faults);
	}
}

/* Execute @w page by page; return its result. */
static int odp_engine_run(struct odp_work *w)
{
	unsigned long va = w->va, end = w->va + w->len;
	char *buf = w->buf;
	int ret;

	while (va < end) {
		size_t n = min(end, (va & PAGE_MASK) + PAGE_SIZE) - va;

		ret = odp_engine_page(w, va, buf, n, end);
		if (ret)
			return ret;
		va += n;
		buf += n;
	}
	return 0;
}

/* The engine's wait condition: work queued, or told to stop. */
static bool odp_engine_wake(struct odp_dev *dev)
{
	bool wake;

	spin_lock(&dev->lock);
	wake = !list_empty(&dev->queue) || dev->stopping;
	spin_unlock(&dev->lock);
	return wake;
}

/* Pop the oldest work, or NULL; *@stop: stopping and nothing queued. */
static struct odp_work *odp_engine_pop(struct odp_dev *dev, bool *stop)
{
	struct odp_work *w;

	spin_lock(&dev->lock);
	w = list_first_entry_or_null(&dev->queue, struct odp_work, node);
	if (w)
		list_del_init(&w->node);
	*stop = !w && dev->stopping;
	spin_unlock(&dev->lock);
	return w;
}

/* Finish @w: account it, release the MR, then wake the poster. */
static void odp_engine_finish(struct odp_dev *dev, struct odp_work *w, int ret)
{
	struct odp_mr *mr = w->mr;

	if (!ret)
		atomic_long_inc(w->write ? &dev->dma_writes : &dev->dma_reads);
	w->ret = ret;
	/*
	 * The last touch of @mr: dereg may free it once it reads zero.  A
	 * fully ordered RMW (release side): every access the engine made
	 * to @mr happens before dereg's acquire read of the zero.
	 */
	atomic_long_dec_return(&mr->in_flight);
	wake_up(&dev->mr_wq);
	/* Release: the poster's wait returns after w->ret is written. */
	complete(&w->done);
}

static int odp_engine(void *data)
{
	struct odp_dev *dev = data;
	struct odp_work *w;
	bool stop;

	for (;;) {
		wait_event(dev->engine_wq, odp_engine_wake(dev));
		w = odp_engine_pop(dev, &stop);
		if (stop)
			return 0;
		if (w)
			odp_engine_finish(dev, w, odp_engine_run(w));
	}
}

/* ==== posting DMA ======================================================== */

/* Queue @w unless its MR is being deregistered. */
static int odp_dma_post(struct odp_work *w)
{
	struct odp_dev *dev = w->mr->dev;

	spin_lock(&dev->lock);
	if (w->mr->dying) {
		spin_unlock(&dev->lock);
		return -EFAULT;
	}
	atomic_long_inc(&w->mr->in_flight);
	list_add_tail(&w->node, &dev->queue);
	spin_unlock(&dev->lock);
	wake_up(&dev->engine_wq);
	wake_up(&dev->mr_wq); /* odp_mr_wait_in_flight() */
	return 0;
}

static int odp_dma(struct odp_mr *mr, unsigned long va, void *buf, size_t len,
		   bool write)
{
	struct odp_work w = {
		.mr = mr,
		.va = va,
		.buf = buf,
		.len = len,
		.write = write,
	};
	int ret;

	if (!mr || !buf || !odp_mr_contains(mr, va, len))
		return -EINVAL;
	if (write && !(mr->access & ODP_ACCESS_WRITE))
		return -EPERM;
	init_completion(&w.done);
	INIT_LIST_HEAD(&w.node);
	ret = odp_dma_post(&w);
	if (ret)
		return ret;
	wait_for_completion(&w.done);
	return w.ret;
}

/**
 * odp_dma_read() - the NIC reads @len bytes at @va of @mr into @buf.
 * @mr: the MR
 * @va: inside @mr, with @len
 * @buf: destination
 * @len: bytes, > 0
 *
 * Posts the DMA to the engine and waits for it; missing pages are faulted
 * in by the engine.
 * Context: may sleep; must not hold any lock the engine or a host-MMU
 * invalidation takes.
 * Return: 0; -EFAULT (unmapped, PROT_NONE, mm gone, MR being
 * deregistered); -EINVAL (outside the MR); -ENOMEM.
 */
int odp_dma_read(struct odp_mr *mr, unsigned long va, void *buf, size_t len)
{
	return odp_dma(mr, va, buf, len, false);
}

/**
 * odp_dma_write() - the NIC writes @len bytes of @buf at @va of @mr.
 * @mr: the MR (registered with ODP_ACCESS_WRITE)
 * @va: inside @mr, with @len
 * @buf: source
 * @len: bytes, > 0
 *
 * Context: as odp_dma_read().
 * Return: as odp_dma_read(), and -EPERM for read-only memory or an MR
 * without ODP_ACCESS_WRITE.
 */
int odp_dma_write(struct odp_mr *mr, unsigned long va, const void *buf,
		  size_t len)
{
	/* The engine only reads from @buf for a write. */
	return odp_dma(mr, va, (void *)buf, len, true);
}

/**
 * odp_mr_wait_in_flight() - wait until at least @n DMAs are posted on
 * @mr and not finished (tests and the CLI: deregister with DMA provably
 * in flight).
 * @mr: the MR
 * @n: the count to reach
 *
 * Context: may sleep.  The caller makes sure @n DMAs get posted.
 */
void odp_mr_wait_in_flight(struct odp_mr *mr, unsigned long n)
{
	/* Pairs with the atomic RMWs on in_flight and wake_up(&mr_wq) in
	 * odp_dma_post() and odp_engine_finish(). */
	wait_event(mr->dev->mr_wq, atomic_long_read(&mr->in_flight) >= n);
}

/* ==== the device ========================================================= */

/**
 * odp_create() - a NIC named @name, with its DMA engine thread running.
 * @name: for reports and the engine's thread name
 *
 * Context: may sleep.
 * Return: the NIC or ERR_PTR(-EINVAL/-ENOMEM/-EAGAIN).
 */
struct odp_dev *odp_create(const char *name)
{
	struct odp_dev *dev;

	if (!name)
		return ERR_PTR(-EINVAL);
	dev = kzalloc(sizeof(*dev), GFP_KERNEL);
	if (!dev)
		return ERR_PTR(-ENOMEM);
	snprintf(dev->name, sizeof(dev->name), "%s", name);
	spin_lock_init(&dev->lock);
	INIT_LIST_HEAD(&dev->queue);
	INIT_LIST_HEAD(&dev->mrs);
	init_waitqueue_head(&dev->engine_wq);
	init_waitqueue_head(&dev->mr_wq);
	check_dev_init(&dev->cdev, dev->name);
	dev->engine = kthread_run(odp_engine, dev, "odp-%s", name);
	if (IS_ERR(dev->engine)) {
		long err = PTR_ERR(dev->engine);

		check_dev_fini(&dev->cdev);
		kfree(dev);
		return ERR_PTR(err);
	}
	return dev;
}

/**
 * odp_destroy() - deregister what is left (WARN), stop the engine, free.
 * @dev: the NIC; no DMA may be posted on it any more
 *
 * Context: may sleep.
 */
void odp_destroy(struct odp_dev *dev)
{
	struct odp_mr *mr;

	if (!dev)
		return;
	for (;;) {
		spin_lock(&dev->lock);
		mr = list_first_entry_or_null(&dev->mrs, struct odp_mr, node);
		spin_unlock(&dev->lock);
		if (!mr)
			break;
		WARN_ON(mr);
		odp_dereg_mr(mr);
	}
	spin_lock(&dev->lock);
	dev->stopping = true;
	spin_unlock(&dev->lock);
	wake_up(&dev->engine_wq);
	kthread_join(dev->engine);
	check_dev_fini(&dev->cdev);
	kfree(dev);
}

/**
 * odp_get_stats() - a snapshot of @dev's counters.
 * @dev: the NIC
 * @stats: filled in
 *
 * Context: any; does not sleep.
 */
void odp_get_stats(struct odp_dev *dev, struct odp_stats *stats)
{
	memset(stats, 0, sizeof(*stats));
	stats->dma_reads = atomic_long_read(&dev->dma_reads);
	stats->dma_writes = atomic_long_read(&dev->dma_writes);
	stats->page_faults = atomic_long_read(&dev->page_faults);
	stats->prefetched = atomic_long_read(&dev->prefetched);
	stats->invalidations = atomic_long_read(&dev->invalidations);
	stats->retries = atomic_long_read(&dev->retries);
}
