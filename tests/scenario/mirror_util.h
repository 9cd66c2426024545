/* SPDX-License-Identifier: MIT */
/*
 * mirror_util.h - what the mirror-device scenarios share: a test runs
 * under the leak check and the oracle (every frame, object and mm back,
 * no WARN, no violation), devices that must be created, data patterns
 * that name their address, and short forms for device and CPU accesses.
 */
#ifndef MMIRROR_SCENARIO_MIRROR_UTIL_H
#define MMIRROR_SCENARIO_MIRROR_UTIL_H

#include "check_test_util.h"
#include "mm_test_util.h"
#include "mirror/mirror.h"

#define RW (PROT_READ | PROT_WRITE)
#define P PAGE_SIZE

static inline void scen_begin(struct mm_leak_check *lc)
{
	mm_leak_check_begin(lc);
	oracle_begin();
}

/* After every device is destroyed and every mm exited. */
static inline void scen_end(const struct mm_leak_check *lc)
{
	oracle_end_clean();
	mm_leak_check_end(lc);
}

static inline struct dmirror *dm_new(struct mm_struct *mm, const char *name,
				     unsigned int nr_engines)
{
	struct dmirror *dm = dmirror_create(mm, name, nr_engines);

	assert_false(IS_ERR_OR_NULL(dm));
	return dm;
}

static inline struct dmirror_stats dm_stats(struct dmirror *dm)
{
	struct dmirror_stats s;

	dmirror_get_stats(dm, &s);
	return s;
}

/* The byte a pattern @tag puts at @va: differs per address and per tag. */
static inline unsigned char pat_byte(unsigned long va, unsigned int tag)
{
	unsigned long x = (va >> 3) * 0x9E3779B97F4A7C15UL + tag * 0x3bUL;

	return (unsigned char)((x >> 56) ^ (va & 7) ^ tag);
}

static inline void pat_fill(unsigned char *buf, unsigned long va, size_t len,
			    unsigned int tag)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = pat_byte(va + i, tag);
}

/* Does @buf hold pattern @tag of [va, va + len)? */
static inline bool pat_ok(const unsigned char *buf, unsigned long va,
			  size_t len, unsigned int tag)
{
	for (size_t i = 0; i < len; i++)
		if (buf[i] != pat_byte(va + i, tag))
			return false;
	return true;
}

static inline bool all_zero(const unsigned char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (buf[i])
			return false;
	return true;
}

/* The device writes pattern @tag over [va, va + len); must succeed. */
static inline void dev_write_pat(struct dmirror *dm, unsigned long va,
				 size_t len, unsigned int tag)
{
	unsigned char *buf = malloc(len);

	assert_non_null(buf);
	pat_fill(buf, va, len, tag);
	assert_int_equal(dmirror_write(dm, va, buf, len), 0);
	free(buf);
}

/* The device reads [va, va + len): pattern @tag, or zeros if @tag is 0. */
static inline void dev_expect(struct dmirror *dm, unsigned long va, size_t len,
			      unsigned int tag)
{
	unsigned char *buf = malloc(len);

	assert_non_null(buf);
	memset(buf, 0x5a, len);
	assert_int_equal(dmirror_read(dm, va, buf, len), 0);
	assert_true(tag ? pat_ok(buf, va, len, tag) : all_zero(buf, len));
	free(buf);
}

static inline void cpu_write_pat(struct sim_cpu *cpu, unsigned long va,
				 size_t len, unsigned int tag)
{
	unsigned char *buf = malloc(len);

	assert_non_null(buf);
	pat_fill(buf, va, len, tag);
	assert_int_equal(cpu_store(cpu, va, buf, len), 0);
	free(buf);
}

/* The CPU reads [va, va + len): pattern @tag, or zeros if @tag is 0. */
static inline void cpu_expect(struct sim_cpu *cpu, unsigned long va, size_t len,
			      unsigned int tag)
{
	unsigned char *buf = malloc(len);

	assert_non_null(buf);
	memset(buf, 0x5a, len);
	assert_int_equal(cpu_load(cpu, va, buf, len), 0);
	assert_true(tag ? pat_ok(buf, va, len, tag) : all_zero(buf, len));
	free(buf);
}

/* A test's usual cast: an mm, a CPU on it, a device mirroring it. */
struct scen {
	struct mm_leak_check lc;
	struct mm_struct *mm;
	struct sim_cpu *cpu;
	struct dmirror *dm;
};

static void scen_setup(struct scen *s, unsigned int nr_engines)
{
	scen_begin(&s->lc);
	s->mm = mm_alloc();
	assert_false(IS_ERR_OR_NULL(s->mm));
	s->cpu = cpu_create(s->mm);
	assert_false(IS_ERR_OR_NULL(s->cpu));
	s->dm = dm_new(s->mm, "dev0", nr_engines);
}

static void scen_teardown(struct scen *s)
{
	dmirror_destroy(s->dm);
	cpu_destroy(s->cpu);
	mm_exit(s->mm);
	scen_end(&s->lc);
}

#endif /* MMIRROR_SCENARIO_MIRROR_UTIL_H */
