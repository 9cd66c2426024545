/* SPDX-License-Identifier: MIT */
/*
 * mirror.h - an HMM mirror device, like the kernel's test_hmm "dmirror".
 *
 * A device mirrors one mm through one interval notifier over the whole
 * address space and keeps a device page table of its own (va -> pfn, with
 * write permission).  Device engines (kthreads) execute reads and writes of
 * va ranges through that table; a missing or read-only entry is faulted
 * with hmm_range_fault() using the read_begin -> fault -> lock ->
 * read_retry protocol.  Several devices may mirror one mm.  Every device
 * access goes through the coherence oracle (<mmirror/check.h>).
 * drivers/mirror/README.md gives the protocol and the lock order.
 */
#ifndef DRIVERS_MIRROR_H
#define DRIVERS_MIRROR_H

#include <mmirror/mm_types.h>

struct dmirror;

/* Snapshot states, one byte per page (the kernel's HMM_DMIRROR_PROT_*). */
#define DMIRROR_PROT_ERROR 0xff /* no VMA or not mirrorable */
#define DMIRROR_PROT_NONE 0x00 /* not mapped by the CPU */
#define DMIRROR_PROT_READ 0x01
#define DMIRROR_PROT_WRITE 0x02
#define DMIRROR_PROT_PMD 0x04 /* part of a PMD (2 MiB) mapping */
#define DMIRROR_PROT_PUD 0x08 /* part of a PUD (1 GiB) mapping */
#define DMIRROR_PROT_ZERO 0x10 /* the shared zero page */
#define DMIRROR_PROT_DEV_PRIVATE_LOCAL 0x20 /* this device's private memory */
#define DMIRROR_PROT_DEV_PRIVATE_REMOTE 0x30 /* another device's */

struct dmirror_stats {
	unsigned long reads, writes; /* pages read / written by engines */
	unsigned long faults; /* fault batches installed in the device table */
	unsigned long retries; /* read_retry or -EBUSY: faulted again */
	unsigned long invalidations; /* invalidate callbacks that overlapped */
	unsigned long entries; /* valid device page-table entries now */
	unsigned long atomics; /* atomic operations done (atomic.c) */
};

/*
 * dmirror_create() - a device mirroring @mm with @nr_engines engine
 * threads (1..16), named @name in oracle reports.
 * Return: the device or ERR_PTR(-EINVAL/-ENOMEM/-EFAULT: @mm exited).
 */
struct dmirror *dmirror_create(struct mm_struct *mm, const char *name,
			       unsigned int nr_engines);
/* Stop the engines, remove the notifier, free the device table. */
void dmirror_destroy(struct dmirror *dm);

/*
 * dmirror_read()/dmirror_write() - an engine reads/writes @len bytes at
 * @va through the device page table, faulting missing entries; the caller
 * waits for it.  Callable from any number of threads at once.
 * Return: 0; -EFAULT (no VMA, PROT_NONE, the mm exited); -EPERM (write to
 * memory the CPU may not write); -ENOMEM; -EINVAL (bad arguments).
 */
int dmirror_read(struct dmirror *dm, unsigned long va, void *buf, size_t len);
int dmirror_write(struct dmirror *dm, unsigned long va, const void *buf,
		  size_t len);
/* dmirror_fault() - fault [start, end) into the device table (writable if
 * @write) without accessing it.  Returns as dmirror_read(). */
int dmirror_fault(struct dmirror *dm, unsigned long start, unsigned long end,
		  bool write);
/*
 * dmirror_snapshot() - the CPU's view of [start, end) as the device sees
 * it, without faulting: one DMIRROR_PROT_* byte per page into @states.
 * Return 0, -EINVAL, -EFAULT (the mm exited).
 */
int dmirror_snapshot(struct dmirror *dm, unsigned long start, unsigned long end,
		     unsigned char *states);
void dmirror_get_stats(struct dmirror *dm, struct dmirror_stats *stats);

/*
 * dmirror_exclusive() - make [start, end) exclusive to the device
 * (make_device_exclusive) and map it "atomic-capable" in its table: the
 * kernel's HMM_DMIRROR_EXCLUSIVE.  Every CPU access to those pages then
 * faults and takes the device's mapping away.
 * Return: 0; -EINVAL (bad arguments); -EFAULT (no VMA, a read-only one,
 * the mm exited); -EOPNOTSUPP (not order-0 anonymous memory); -EBUSY
 * (invalidations kept racing); -ENOMEM.
 */
int dmirror_exclusive(struct dmirror *dm, unsigned long start,
		      unsigned long end);
/*
 * dmirror_atomic_add() - the device atomically adds @val to the u64 at @va
 * (8-byte aligned), through an atomic mapping only; the old value out
 * through @old if non-NULL.
 * Return: 0; -EBUSY (no atomic mapping: a CPU access or an invalidation
 * took it; call dmirror_exclusive() again); -EINVAL.
 */
int dmirror_atomic_add(struct dmirror *dm, unsigned long va, u64 val, u64 *old);
const char *dmirror_name(const struct dmirror *dm);

/* --- device memory (devmem.c; docs/devmem.md) ----------------------------- */

struct dmirror_devmem_stats {
	unsigned long nr_pages; /* device-private pages the device has */
	unsigned long nr_free; /* of which free */
	unsigned long to_device; /* pages migrated to device memory */
	unsigned long to_system; /* pages migrated back by the driver */
	unsigned long cpu_faults; /* migrate_to_ram() calls (CPU touches) */
	unsigned long evicted; /* pages migrated out by a release */
};

/*
 * dmirror_devmem_add() - give the device @nr_pages (1..512) of
 * device-private memory: memremap_pages(MEMORY_DEVICE_PRIVATE) with the
 * device as pgmap owner.  Once per device (until released).
 * Return: 0; -EINVAL; -EBUSY (the device has memory already); -ENOMEM.
 */
int dmirror_devmem_add(struct dmirror *dm, unsigned long nr_pages);
/*
 * dmirror_migrate_to_device() - move the anonymous pages of [start, end)
 * (one private anonymous VMA; holes get zeroed device pages) into device
 * memory (the kernel's HMM_DMIRROR_MIGRATE_TO_DEV) and map them in the
 * device table.  Pages already there, pinned or busy stay where they are.
 * Return: 0; -EINVAL (bad arguments); -ENODEV (no device memory);
 * -EFAULT (no VMA, not private anonymous, the mm exited); -ENOMEM (device
 * memory full: the pages before stay moved).
 */
int dmirror_migrate_to_device(struct dmirror *dm, unsigned long start,
			      unsigned long end);
/*
 * dmirror_migrate_to_system() - move this device's pages of [start, end)
 * back to system memory (HMM_DMIRROR_MIGRATE_TO_SYS).
 * Return: 0; -EINVAL; -EFAULT (no VMA, the mm exited); -ENOMEM.
 */
int dmirror_migrate_to_system(struct dmirror *dm, unsigned long start,
			      unsigned long end);
/*
 * dmirror_devmem_release() - the device memory goes away while the
 * process may still map it: migrate every allocated page back to system
 * memory (migrate_device_range), then memunmap_pages().  Data stays
 * intact; the CPU and the device find it in system memory.
 * dmirror_destroy() does this too.  Return: 0; -ENODEV (no memory).
 */
int dmirror_devmem_release(struct dmirror *dm);
void dmirror_get_devmem_stats(struct dmirror *dm,
			      struct dmirror_devmem_stats *stats);

#endif /* DRIVERS_MIRROR_H */
