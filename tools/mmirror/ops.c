// SPDX-License-Identifier: MIT
/*
 * ops.c - executing one statement and judging its outcome against its
 * `expect` clause.
 *
 * An operation without a clause must succeed.  A clause lists what is
 * acceptable: ok, any, an errno, or (for load/read) values that every
 * word read must be one of - in a race, "the old value or the new one"
 * is the honest expectation.  A failed expectation is counted and
 * reported, and the run goes on; a failed declaration stops it, since
 * what follows would name an object that does not exist.
 */
#include <stdlib.h>
#include <string.h>
#include <mmirror/cpu.h>
#include <mmirror/mm.h>
#include <mmirror/rmap.h>
#include "kvm/kvm.h"
#include "mirror/mirror.h"
#include "odp/odp.h"
#include "pin/pin.h"
#include "run_int.h"

static const char *err_str(int ret, char *buf, size_t n)
{
	const char *name = scn_errno_name(-ret);

	if (!ret)
		return "ok";
	if (name)
		snprintf(buf, n, "-%s", name);
	else
		snprintf(buf, n, "%d", ret);
	return buf;
}

/* Is @v one of the value alternatives of @s? */
static bool value_ok(const struct scn_stmt *s, u64 v)
{
	for (size_t i = 0; i < s->nalts; i++)
		if (s->alts[i].kind == SCN_ALT_VALUE && s->alts[i].value == v)
			return true;
	return false;
}

/* Does @s list an alternative of kind @k (an errno: that errno @v)? */
static bool has_alt(const struct scn_stmt *s, enum scn_alt_kind k, u64 v)
{
	for (size_t i = 0; i < s->nalts; i++)
		if (s->alts[i].kind == k &&
		    (k != SCN_ALT_ERR || s->alts[i].value == v))
			return true;
	return false;
}

/*
 * Judge @ret (and the @n words read into @w, for load/read) and report.
 * Without a clause only success will do; `ok` accepts any value read.
 */
void scn_judge(struct scn_tctx *t, struct scn_stmt *s, int ret, const u64 *w,
	       size_t n)
{
	bool any = has_alt(s, SCN_ALT_ANY, 0), ok;
	size_t bad = 0;
	char eb[24];

	if (!s->nalts)
		ok = !ret;
	else if (ret)
		ok = any || has_alt(s, SCN_ALT_ERR, -ret);
	else if (any || has_alt(s, SCN_ALT_OK, 0))
		ok = true;
	else if (!has_alt(s, SCN_ALT_VALUE, 0) || !n)
		ok = false; /* only errors were acceptable */
	else
		for (ok = true; ok && bad < n; bad++)
			if (!value_ok(s, w[bad]))
				ok = false;
	if (ret || !n)
		scn_outcome(t, s, ok, "%s", err_str(ret, eb, sizeof(eb)));
	else if (ok || n == 1)
		scn_outcome(t, s, ok, "%#llx%s", (unsigned long long)w[0],
			    n > 1 ? " ..." : "");
	else
		scn_outcome(t, s, ok, "%#llx at +%#zx",
			    (unsigned long long)w[bad - 1], (bad - 1) * 8);
}

static int dev_access(struct scn_obj *d, unsigned long va, void *buf,
		      size_t len, bool write)
{
	int ret;

	switch (d->kind) {
	case SCN_MIRROR:
		return write ? dmirror_write(d->dev, va, buf, len) :
			       dmirror_read(d->dev, va, buf, len);
	case SCN_ODP:
		return write ? odp_dma_write(d->dev, va, buf, len) :
			       odp_dma_read(d->dev, va, buf, len);
	case SCN_PIN:
		return write ? pindev_dma_write(d->dev, va, buf, len) :
			       pindev_dma_read(d->dev, va, buf, len);
	case SCN_KVM:
		/* Guest access to the host va through slot 0. */
		if (va < d->base || va - d->base + len > d->len)
			return -EFAULT;
		/* A vCPU runs one guest thread at a time. */
		mutex_lock(&d->vcpu_lock);
		ret = write ? kvm_vcpu_write(d->dev2, d->gpa + va - d->base,
					     buf, len) :
			      kvm_vcpu_read(d->dev2, d->gpa + va - d->base, buf,
					    len);
		mutex_unlock(&d->vcpu_lock);
		return ret;
	default:
		return -EINVAL;
	}
}

static int fault_range(struct scn_obj *d, unsigned long va, size_t len,
		       bool write)
{
	unsigned long s = va & PAGE_MASK;
	unsigned long e = (va + len + PAGE_SIZE - 1) & PAGE_MASK;

	if (d->kind == SCN_MIRROR)
		return dmirror_fault(d->dev, s, e, write);
	return odp_prefetch(d->dev, s, e - s, write);
}

/* load, store, read, write, fault */
static void exec_access(struct scn_tctx *t, struct scn_stmt *s)
{
	bool write = s->op == OP_STORE || s->op == OP_WRITE;
	unsigned long va, len;
	size_t n, i;
	u64 *buf;
	int ret;

	if (!scn_range_va(&s->range, &va, &len) || len % 8) {
		scn_outcome(t, s, false,
			    "the range is empty or not a "
			    "multiple of 8 bytes");
		return;
	}
	if (s->op == OP_FAULT) {
		scn_judge(t, s, fault_range(s->obj, va, len, s->flag), NULL, 0);
		return;
	}
	n = len / 8;
	buf = malloc(len);
	if (!buf) {
		scn_outcome(t, s, false, "out of memory");
		return;
	}
	for (i = 0; i < n; i++)
		buf[i] = write ? s->value : 0;
	if (s->obj->kind == SCN_CPU)
		ret = write ? cpu_store(s->obj->dev, va, buf, len) :
			      cpu_load(s->obj->dev, va, buf, len);
	else
		ret = dev_access(s->obj, va, buf, len, write);
	scn_judge(t, s, ret, buf, write ? 0 : n);
	free(buf);
}

static void exec_snapshot(struct scn_tctx *t, struct scn_stmt *s)
{
	unsigned long va, len, np, i;
	unsigned char *st;
	bool ok = true;
	int ret;

	if (!scn_range_va(&s->range, &va, &len)) {
		scn_outcome(t, s, false, "empty range");
		return;
	}
	len += va & ~PAGE_MASK;
	va &= PAGE_MASK;
	np = (len + PAGE_SIZE - 1) >> PAGE_SHIFT;
	st = malloc(np);
	if (!st) {
		scn_outcome(t, s, false, "out of memory");
		return;
	}
	ret = dmirror_snapshot(s->obj->dev, va, va + np * PAGE_SIZE, st);
	if (ret) {
		scn_outcome(t, s, false, "snapshot failed: %d", ret);
		free(st);
		return;
	}
	for (i = 0; i < np; i++) {
		st[i] = scn_state_code(st[i]);
		if (i < s->npat)
			ok &= !((st[i] ^ s->pat[i]) &
				((s->patmask[i] & 1 ? 0xf : 0) |
				 (s->patmask[i] & 2 ? 0xf0 : 0)));
	}
	ok &= np == s->npat;
	if (ok && !t->c->opts->verbose) {
		scn_outcome(t, s, true, "matches");
	} else {
		char *txt = NULL;
		size_t tl = 0;
		FILE *m = open_memstream(&txt, &tl);

		if (m) {
			scn_format_states(m, st, np);
			fclose(m);
		}
		scn_outcome(t, s, ok, "%s%s (%lu pages, pattern %zu)",
			    ok ? "" : "got ", txt ? txt : "?", np, s->npat);
		free(txt);
	}
	free(st);
}

static void exec_stat(struct scn_tctx *t, struct scn_stmt *s)
{
	u64 v, r = s->rhs;
	bool ok;

	if (!scn_stat(s->obj, s->arg, &v)) {
		scn_outcome(t, s, false, "%s is gone", s->obj->name);
		return;
	}
	switch (s->cmp) {
	case CMP_EQ:
		ok = v == r;
		break;
	case CMP_NE:
		ok = v != r;
		break;
	case CMP_LT:
		ok = v < r;
		break;
	case CMP_LE:
		ok = v <= r;
		break;
	case CMP_GT:
		ok = v > r;
		break;
	default:
		ok = v >= r;
		break;
	}
	scn_outcome(t, s, ok, "%s.%s is %llu", s->obj->name, s->stat,
		    (unsigned long long)v);
}

/* munmap, mprotect, madvise, mremap, age, and a mapping made again */
static void exec_vm(struct scn_tctx *t, struct scn_stmt *s)
{
	struct mm_struct *mm = s->obj->mm;
	struct scn_obj *m = s->range.map;
	unsigned long va, len, sc = 0, ref = 0;
	long ret;

	if (s->op != OP_AGE && !scn_range_va(&s->range, &va, &len)) {
		scn_outcome(t, s, false, "empty range");
		return;
	}
	switch (s->op) {
	case OP_MUNMAP:
		ret = vm_munmap(mm, va, len);
		break;
	case OP_MPROTECT:
		ret = vm_mprotect(mm, va, len, s->arg);
		break;
	case OP_MADVISE:
		ret = vm_madvise(mm, va, len, s->arg);
		break;
	case OP_REMAP:
		ret = vm_mmap(mm, va, len, m->prot, m->flags | MAP_FIXED);
		if (!IS_ERR_VALUE(ret) && m->thp)
			ret = vm_madvise(mm, va, len, MADV_HUGEPAGE);
		break;
	case OP_MREMAP:
		ret = vm_mremap(mm, va, len, s->value, MREMAP_MAYMOVE, 0);
		if (!IS_ERR_VALUE(ret)) {
			/* Top level only: no thread reads base/len now. */
			m->base = ret;
			m->len = s->value;
		}
		break;
	default:
		ret = mm_age_pass(mm, &sc, &ref);
		/* Threads may age one process at once; pairs with the
		 * READ_ONCE()s in stat_process(). */
		WRITE_ONCE(s->obj->scanned, sc);
		WRITE_ONCE(s->obj->referenced, ref);
		break;
	}
	scn_judge(t, s, IS_ERR_VALUE(ret) ? (int)ret : 0, NULL, 0);
}

static bool exec_decl(struct scn_tctx *t, struct scn_stmt *s)
{
	int ret = 0;

	if (s->op == OP_EXIT) {
		struct scenario *scn = t->c->scn;

		/* The process's CPUs are its threads: they go first. */
		for (size_t i = 0; i < scn->nobjs; i++)
			if (scn->objs[i]->kind == SCN_CPU &&
			    scn->objs[i]->proc == s->obj)
				scn_obj_destroy(scn->objs[i]);
		mm_exit(s->obj->mm);
		s->obj->mm = NULL;
	} else if (s->op == OP_DESTROY) {
		/* What it did, before its statistics go with it. */
		fprintf(t->c->out, "destroyed:\n");
		scn_print_obj_stats(t->c->out, s->obj);
		scn_obj_destroy(s->obj);
	} else {
		ret = scn_obj_create(t, s);
	}
	scn_judge(t, s, ret, NULL, 0);
	return !ret;
}

bool scn_exec_op(struct scn_tctx *t, struct scn_stmt *s)
{
	switch (s->op) {
	case OP_LOAD:
	case OP_STORE:
	case OP_READ:
	case OP_WRITE:
	case OP_FAULT:
		exec_access(t, s);
		return true;
	case OP_SNAPSHOT:
		exec_snapshot(t, s);
		return true;
	case OP_EXPECT_STAT:
		exec_stat(t, s);
		return true;
	case OP_EXPECT_VIOLATION:
		return true; /* judged at the end of the run */
	case OP_PRINT:
		fprintf(t->c->out, "%s\n", s->msg);
		return true;
	case OP_MUNMAP:
	case OP_MPROTECT:
	case OP_MADVISE:
	case OP_REMAP:
	case OP_MREMAP:
	case OP_AGE:
		exec_vm(t, s);
		return true;
	default:
		return scn_exec_mem(t, s) || exec_decl(t, s);
	}
}
