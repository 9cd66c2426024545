// SPDX-License-Identifier: MIT
/*
 * mremap.c - vm_mremap(): shrink, grow in place, or move a mapping.
 *
 * The old range [old_addr, old_addr + old_len) must lie inside one VMA
 * (-EFAULT otherwise).  With mmap_lock held for write throughout:
 *
 *   shrink          old_len >= new_len without FIXED/DONTUNMAP: unmap the
 *                   tail [old_addr + new_len, old_addr + old_len).
 *   grow in place   the old range ends its VMA and the space after it is
 *                   free and inside the address space: extend vm_end (a
 *                   shared VMA's shmem object grows to match).
 *   move            MREMAP_MAYMOVE when growing in place is impossible, or
 *                   MREMAP_FIXED / MREMAP_DONTUNMAP:
 *     1. allocate everything: the new VMA (a copy of the old one) and the
 *        spares for isolating the old range; grow the shmem object if the
 *        mapping grows.  Failure here changes nothing;
 *     2. choose the destination: MREMAP_FIXED unmaps [new_addr,
 *        new_addr + new_len) (Linux's order: if a later step fails, the
 *        destination stays unmapped); otherwise get_unmapped_area(), with
 *        new_addr as a hint under MREMAP_DONTUNMAP;
 *     3. unless MREMAP_DONTUNMAP, split the old VMA so that the old range is
 *        exactly one VMA (then its final unmap needs no allocation);
 *     4. link the new VMA over [new_addr, new_addr + new_len), with the
 *        page offset of old_addr (anonymous pages keep their index, shared
 *        ones their object offset), and move_page_tables() the first
 *        min(old_len, new_len) bytes.  If that comes up short (-ENOMEM),
 *        what moved is moved back and the new VMA removed;
 *     5. unmap the old range, or under MREMAP_DONTUNMAP leave the old VMA
 *        mapped and empty (private memory reads back zeroes; shared memory
 *        faults its object's pages back in);
 *     6. merge the new VMA with its neighbours.
 *
 * Deviations from Linux: old_len 0 (Linux: duplicate a shared mapping) is
 * -EINVAL; the old range is checked (-EFAULT) before the FIXED destination
 * is unmapped, so that error changes nothing.
 */
#include "internal.h"

#define MREMAP_KNOWN (MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP)

/* Can @vma grow by @delta bytes where it is? */
static bool vma_expandable(struct vm_area_struct *vma, unsigned long delta)
{
	unsigned long end = vma->vm_end + delta;
	struct vm_area_struct *next = vma_next(vma);

	if (end < vma->vm_end || end > vma->vm_mm->task_size)
		return false;
	return !next || next->vm_start >= end;
}

static long mremap_expand(struct vm_area_struct *vma, unsigned long old_addr,
			  unsigned long new_end)
{
	struct mm_struct *mm = vma->vm_mm;

	if (vma->vm_shared &&
	    shmem_object_resize(
		    vma->vm_shared,
		    vma->vm_pgoff + ((new_end - vma->vm_start) >> PAGE_SHIFT)))
		return -ENOMEM;
	/* In place: the tree order holds (the space up to new_end is free);
	 * total_vm follows vm_end (mmap.c invariant 3). */
	mm->total_vm += (new_end - vma->vm_end) >> PAGE_SHIFT;
	vma->vm_end = new_end;
	vma_merge_neighbours(vma);
	return old_addr;
}

/* Steps 1-6 of the file comment.  The old range is inside one VMA. */
static long move_vma(struct mm_struct *mm, unsigned long old_addr,
		     unsigned long old_len, unsigned long new_len,
		     unsigned long new_addr, unsigned long flags)
{
	struct vm_area_struct *vma = vma_lookup(mm, old_addr), *new_vma;
	struct vm_area_struct *spares[2];
	unsigned long old_end = old_addr + old_len;
	unsigned long move_len = min(old_len, new_len), moved, pgoff;
	bool keep_old = flags & MREMAP_DONTUNMAP;
	long ret;

	/* 1. Allocate. */
	ret = vma_spares_alloc(mm, spares,
			       keep_old ? 0 :
					  (vma->vm_start < old_addr) +
						  (vma->vm_end > old_end));
	if (ret)
		return ret;
	new_vma = vm_area_dup(vma);
	ret = -ENOMEM;
	if (!new_vma)
		goto out_spares;
	pgoff = vma->vm_pgoff + ((old_addr - vma->vm_start) >> PAGE_SHIFT);
	if (vma->vm_shared && new_len > old_len &&
	    shmem_object_resize(vma->vm_shared,
				pgoff + (new_len >> PAGE_SHIFT)))
		goto out_free;

	/* 2. The destination. */
	if (flags & MREMAP_FIXED) {
		ret = do_munmap(mm, new_addr, new_len);
		if (ret)
			goto out_free;
		/* The unmap may have split the old VMA outside the old
		 * range: find the part holding it again. */
		vma = vma_lookup(mm, old_addr);
	} else {
		new_addr = get_unmapped_area(mm, keep_old ? new_addr : 0,
					     new_len, 0);
		ret = (long)new_addr;
		if (IS_ERR_VALUE(new_addr))
			goto out_free;
	}

	/* 3. Isolate the old range (splits only ever needed fewer spares
	 * after step 2, never more). */
	if (!keep_old && vma->vm_start < old_addr)
		vma_split_spare(vma, old_addr, 1, spares);
	if (!keep_old && vma->vm_end > old_end)
		vma_split_spare(vma, old_end, 0, spares);

	/* 4. The new VMA, and the entries. */
	new_vma->vm_start = new_addr;
	new_vma->vm_end = new_addr + new_len;
	new_vma->vm_pgoff = pgoff;
	if (WARN_ON(vma_link(mm, new_vma))) {
		ret = -EEXIST;
		goto out_free;
	}
	moved = move_page_tables(vma, old_addr, new_vma, new_addr, move_len);
	if (moved < move_len) {
		move_page_tables(new_vma, new_addr, vma, old_addr, moved);
		/* Exactly one VMA: no split, cannot fail. */
		WARN_ON(do_munmap(mm, new_addr, new_len));
		vma_merge_neighbours(vma);
		ret = -ENOMEM;
		goto out_spares;
	}

	/* 5. The old range: exactly one VMA, so no allocation, no failure. */
	if (!keep_old)
		WARN_ON(do_munmap(mm, old_addr, old_len));

	/* 6. */
	vma_merge_neighbours(new_vma);
	ret = new_addr;
	goto out_spares;

out_free:
	vm_area_free(new_vma);
out_spares:
	vma_spares_free(spares);
	return ret;
}

/* The argument checks Linux makes before taking mmap_lock. */
static long mremap_check(struct mm_struct *mm, unsigned long old_addr,
			 unsigned long *old_len, unsigned long *new_len,
			 unsigned long flags, unsigned long new_addr)
{
	if (flags & ~MREMAP_KNOWN)
		return -EINVAL;
	if ((flags & MREMAP_FIXED) && !(flags & MREMAP_MAYMOVE))
		return -EINVAL;
	/* DONTUNMAP moves, and only same-size ranges (before rounding). */
	if ((flags & MREMAP_DONTUNMAP) &&
	    (!(flags & MREMAP_MAYMOVE) || *old_len != *new_len))
		return -EINVAL;
	if (!IS_ALIGNED(old_addr, PAGE_SIZE))
		return -EINVAL;
	*old_len = PAGE_ALIGN(*old_len);
	*new_len = PAGE_ALIGN(*new_len);
	if (!*new_len || !*old_len)
		return -EINVAL;
	/* A wrapping old range is inside no VMA. */
	if (old_addr + *old_len < old_addr)
		return -EFAULT;
	if (!(flags & (MREMAP_FIXED | MREMAP_DONTUNMAP)))
		return 0;
	/* Linux checks new_addr for both FIXED and DONTUNMAP (a hint then). */
	if (!IS_ALIGNED(new_addr, PAGE_SIZE))
		return -EINVAL;
	if (*new_len > mm->task_size || new_addr > mm->task_size - *new_len)
		return -EINVAL;
	if (old_addr + *old_len > new_addr && new_addr + *new_len > old_addr)
		return -EINVAL;
	if ((flags & MREMAP_FIXED) && new_addr < MMAP_MIN_ADDR)
		return -EPERM;
	return 0;
}

/**
 * vm_mremap() - resize and/or move a mapping, like mremap(2).
 * @mm: the address space.
 * @old_addr: page aligned start of the old range.
 * @old_len: its length (rounded up to pages; non-zero).
 * @new_len: the new length (rounded up to pages; non-zero).
 * @flags: 0, or MREMAP_MAYMOVE optionally with MREMAP_FIXED and/or
 *         MREMAP_DONTUNMAP (the latter needs @old_len == @new_len).
 * @new_addr: the destination under MREMAP_FIXED, a hint under
 *            MREMAP_DONTUNMAP alone, ignored otherwise.
 *
 * The file comment gives the cases.  The contents move with the mapping
 * (the page-table entries themselves move: the same frames).
 *
 * Context: takes mmap_lock for write; may sleep.
 * Return: the (new) start address; -EINVAL (unknown or inconsistent flags,
 * unaligned addresses, zero lengths, a FIXED destination outside the
 * address space or overlapping the old range); -EFAULT (the old range is
 * not inside one VMA); -ENOMEM (cannot grow in place and may not move, no
 * room to move to, no memory); -EPERM (FIXED below MMAP_MIN_ADDR).
 */
long vm_mremap(struct mm_struct *mm, unsigned long old_addr,
	       unsigned long old_len, unsigned long new_len,
	       unsigned long flags, unsigned long new_addr)
{
	struct vm_area_struct *vma;
	long ret;

	if (WARN_ON(!mm))
		return -EINVAL;
	ret = mremap_check(mm, old_addr, &old_len, &new_len, flags, new_addr);
	if (ret)
		return ret;

	mmap_write_lock(mm);
	vma = vma_lookup(mm, old_addr);
	ret = -EFAULT;
	if (!vma || old_len > vma->vm_end - old_addr)
		goto out;
	if (new_len > old_len && (vma->vm_flags & (VM_PFNMAP | VM_IO)))
		goto out;

	if (flags & (MREMAP_FIXED | MREMAP_DONTUNMAP)) {
		ret = move_vma(mm, old_addr, old_len, new_len, new_addr, flags);
		goto out;
	}
	if (old_len >= new_len) {
		ret = old_addr;
		if (old_len > new_len)
			ret = do_munmap(mm, old_addr + new_len, old_len - new_len) ?:
				      (long)old_addr;
		goto out;
	}
	if (old_addr + old_len == vma->vm_end &&
	    vma_expandable(vma, new_len - old_len)) {
		ret = mremap_expand(vma, old_addr, old_addr + new_len);
		goto out;
	}
	ret = -ENOMEM;
	if (flags & MREMAP_MAYMOVE)
		ret = move_vma(mm, old_addr, old_len, new_len, 0, flags);
out:
	mmap_write_unlock(mm);
	return ret;
}
