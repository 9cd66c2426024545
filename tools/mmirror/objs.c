// SPDX-License-Identifier: MIT
/*
 * objs.c - the host objects behind a scenario's names: making them,
 * their statistics, and tearing them down.
 *
 * Teardown order is the kernel's: a device lets go of an address space
 * before the process goes (a driver's release/unregister runs while the
 * mm is still there), CPUs leave their mm before its last user drops it,
 * and pins are released by their device's deregistration - so after
 * scn_teardown() every frame the scenario used is free again, whatever
 * point a failed run stopped at.
 */
#include <stdlib.h>
#include <string.h>
#include <mmirror/cpu.h>
#include <mmirror/mm.h>
#include <mmirror/page.h>
#include "kvm/kvm.h"
#include "mirror/mirror.h"
#include "odp/odp.h"
#include "pin/pin.h"
#include "run_int.h"

static int make_device(struct scn_obj *d, unsigned long va, unsigned long len)
{
	struct mm_struct *mm = d->proc->mm;
	void *a, *b = NULL;
	int ret;

	switch (d->kind) {
	case SCN_MIRROR:
		a = dmirror_create(mm, d->name, d->engines);
		break;
	case SCN_ODP:
		b = odp_create(d->name);
		if (IS_ERR(b))
			return PTR_ERR(b);
		a = odp_reg_mr(b, mm, va, len, d->opt ? ODP_ACCESS_WRITE : 0);
		if (IS_ERR(a))
			odp_destroy(b);
		break;
	case SCN_KVM:
		a = kvm_create(mm, d->name);
		if (IS_ERR(a))
			break;
		ret = kvm_set_memory_region(a, 0, d->gpa, va, len,
					    d->opt ? KVM_MEM_READONLY : 0);
		b = ret ? ERR_PTR(ret) : kvm_vcpu_create(a, 0);
		if (IS_ERR_OR_NULL(b)) {
			kvm_destroy(a);
			return b ? PTR_ERR(b) : -ENOMEM;
		}
		mutex_init(&d->vcpu_lock);
		break;
	case SCN_PIN:
		b = pindev_create(d->name, d->opt ? PINDEV_CACHE : 0);
		if (IS_ERR(b))
			return PTR_ERR(b);
		a = pindev_register(b, mm, va, len);
		if (IS_ERR(a))
			pindev_destroy(b);
		break;
	default:
		return -EINVAL;
	}
	if (IS_ERR_OR_NULL(a))
		return a ? PTR_ERR(a) : -ENOMEM;
	d->dev = a;
	d->dev2 = b;
	d->base = va;
	d->len = len;
	return 0;
}

/* The statement's range as [*va, *va + *len): false if it is empty. */
bool scn_range_va(const struct scn_range *r, unsigned long *va,
		  unsigned long *len)
{
	unsigned long end = r->end == SCN_END ? r->map->len : r->end;

	*va = r->map->base + r->start;
	*len = end > r->start ? end - r->start : 0;
	return *len;
}

/* Declarations and fork: make the object; 0 or a negative errno. */
int scn_obj_create(struct scn_tctx *t, struct scn_stmt *s)
{
	struct scn_obj *o = s->obj, *m = s->obj2;
	unsigned long va, len;
	void *p;
	long a;

	switch (s->op) {
	case OP_PROCESS:
	case OP_FORK:
		p = s->op == OP_FORK ? mm_fork(o->mm) : mm_alloc();
		if (IS_ERR_OR_NULL(p))
			return p ? PTR_ERR(p) : -ENOMEM;
		(s->op == OP_FORK ? m : o)->mm = p;
		return 0;
	case OP_MAP:
		a = vm_mmap(o->mm, 0, m->size, m->prot, m->flags);
		if (IS_ERR_VALUE(a))
			return a;
		m->base = a;
		m->len = m->size;
		return m->thp ? vm_madvise(o->mm, a, m->size, MADV_HUGEPAGE) :
				0;
	case OP_CPU:
		p = cpu_create(m->mm);
		if (IS_ERR(p))
			return PTR_ERR(p);
		o->dev = p;
		return 0;
	default:
		va = len = 0; /* a mirror takes the whole address space */
		if (o->kind != SCN_MIRROR &&
		    !scn_range_va(&o->range, &va, &len))
			return -EINVAL;
		return make_device(o, va, len);
	}
}

void scn_obj_destroy(struct scn_obj *o)
{
	if (!o->dev)
		return;
	switch (o->kind) {
	case SCN_CPU:
		cpu_destroy(o->dev);
		break;
	case SCN_MIRROR:
		dmirror_destroy(o->dev);
		break;
	case SCN_ODP:
		odp_dereg_mr(o->dev);
		odp_destroy(o->dev2);
		break;
	case SCN_KVM:
		kvm_vcpu_destroy(o->dev2);
		kvm_destroy(o->dev);
		break;
	case SCN_PIN:
		pindev_deregister(o->dev);
		pindev_destroy(o->dev2);
		break;
	default:
		break;
	}
	o->dev = o->dev2 = NULL;
}

void scn_teardown(struct scenario *scn)
{
	size_t i;

	/* Devices, newest first; then CPUs; then the processes. */
	for (i = scn->nobjs; i-- > 0;)
		if (scn->objs[i]->kind != SCN_CPU)
			scn_obj_destroy(scn->objs[i]);
	for (i = scn->nobjs; i-- > 0;)
		scn_obj_destroy(scn->objs[i]);
	for (i = scn->nobjs; i-- > 0;) {
		struct scn_obj *o = scn->objs[i];

		if (o->kind == SCN_PROCESS && o->mm) {
			mm_exit(o->mm);
			o->mm = NULL;
		}
	}
}

static bool stat_process(struct scn_obj *o, unsigned long i, u64 *v)
{
	struct mm_struct *mm = o->mm;
	/* Pairs with the WRITE_ONCE()s of an age pass (ops.c). */
	u64 x[] = {
		0, 0, 0, READ_ONCE(o->scanned), READ_ONCE(o->referenced), 0
	};

	if (i >= ARRAY_SIZE(x) || (!mm && (i < 3 || i == 5)))
		return false; /* exited: no address space to ask */
	if (mm) {
		x[0] = get_mm_counter(mm, MM_ANONPAGES) +
		       get_mm_counter(mm, MM_SHMEMPAGES);
		x[1] = mm_pgtables_pages(mm);
		/* Racy but harmless: a statistic, read between blocks. */
		x[2] = READ_ONCE(mm->map_count);
		x[5] = get_mm_counter(mm, MM_SWAPENTS);
	}
	*v = x[i];
	return true;
}

/* Read statistic @idx (the order of scn_stat_names()) of @o. */
bool scn_stat(struct scn_obj *o, unsigned long idx, u64 *v)
{
	unsigned long a[16] = { 0 };

	if (o->kind == SCN_PROCESS)
		return stat_process(o, idx, v);
	if (!o->dev || idx >= ARRAY_SIZE(a))
		return false;
	switch (o->kind) {
	case SCN_CPU: {
		/* Only meaningful when the CPU's thread is not running:
		 * between blocks, as the language places expectations. */
		struct sim_cpu *c = o->dev;
		unsigned long x[] = {
			c->loads,    c->stores, c->walks,
			c->tlb_hits, c->faults, c->tlb_shootdowns
		};
		memcpy(a, x, sizeof(x));
		break;
	}
	case SCN_MIRROR: {
		struct dmirror_devmem_stats dst;
		struct dmirror_stats st;

		dmirror_get_stats(o->dev, &st);
		dmirror_get_devmem_stats(o->dev, &dst);
		unsigned long x[] = { st.reads,		st.writes,
				      st.faults,	st.retries,
				      st.invalidations, st.entries,
				      st.atomics,	dst.nr_pages,
				      dst.nr_free,	dst.to_device,
				      dst.to_system,	dst.cpu_faults,
				      dst.evicted };
		memcpy(a, x, sizeof(x));
		break;
	}
	case SCN_ODP: {
		struct odp_stats st;

		odp_get_stats(o->dev2, &st);
		unsigned long x[] = { st.dma_reads,	    st.dma_writes,
				      st.page_faults,	    st.prefetched,
				      st.invalidations,	    st.retries,
				      odp_mr_mapped(o->dev) };
		memcpy(a, x, sizeof(x));
		break;
	}
	case SCN_KVM: {
		struct kvm_stats st;

		kvm_get_stats(o->dev, &st);
		unsigned long x[] = { st.faults,	st.retries,
				      st.zapped,	st.invalidations,
				      st.young_cleared, st.guest_reads,
				      st.guest_writes,	kvm_nr_sptes(o->dev),
				      st.released };
		memcpy(a, x, sizeof(x));
		break;
	}
	case SCN_PIN: {
		struct pindev_stats st;

		pindev_get_stats(o->dev2, &st);
		unsigned long x[] = { st.pinned, st.pin_calls, st.evictions,
				      st.dma_reads, st.dma_writes };
		memcpy(a, x, sizeof(x));
		break;
	}
	default:
		return false;
	}
	*v = a[idx];
	return true;
}

/* One line: every statistic of a live CPU or device. */
void scn_print_obj_stats(FILE *out, struct scn_obj *o)
{
	const char *const *names = scn_stat_names(o->kind);
	u64 v;

	if (o->kind == SCN_PROCESS || o->kind == SCN_MAPPING ||
	    o->kind == SCN_THREAD || !o->dev)
		return;
	fprintf(out, "  %-10s %s on %s:", o->name, scn_kind_name(o->kind),
		o->proc->name);
	for (size_t k = 0; names[k]; k++)
		if (scn_stat(o, k, &v))
			fprintf(out, " %s %llu", names[k],
				(unsigned long long)v);
	fputc('\n', out);
}

void scn_print_stats(FILE *out, struct scenario *scn)
{
	for (size_t i = 0; i < scn->nobjs; i++)
		scn_print_obj_stats(out, scn->objs[i]);
}
