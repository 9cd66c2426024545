/* SPDX-License-Identifier: MIT */
/*
 * compiler.h - the small kernel vocabulary every mmirror file speaks:
 * fixed-width types, likely/unlikely, container_of, and the loud contract
 * checks (WARN_ON, BUG_ON) that STYLE.md asks for instead of silent wrong
 * answers.
 */
#ifndef MMIRROR_COMPILER_H
#define MMIRROR_COMPILER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int32_t s32;
typedef int64_t s64;

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define __maybe_unused __attribute__((unused))
#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif
#define __noinline __attribute__((noinline))
#define __cold __attribute__((cold))

#ifndef container_of
#define container_of(ptr, type, member) \
	((type *)((char *)(ptr)-offsetof(type, member)))
#endif

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define BUILD_BUG_ON(cond) _Static_assert(!(cond), #cond)
#define DIV_ROUND_UP(n, d) (((n) + (d)-1) / (d))
#define ALIGN_DOWN(x, a) ((x) & ~((__typeof__(x))(a)-1))
#define ALIGN_UP(x, a) ALIGN_DOWN((x) + (a)-1, (a))
#define IS_ALIGNED(x, a) (((x) & ((__typeof__(x))(a)-1)) == 0)
#define min(a, b) ((a) < (b) ? (a) : (b))
#define max(a, b) ((a) > (b) ? (a) : (b))

/* Errno values the kernel has and libc lacks. */
#ifndef ERESTARTSYS
#define ERESTARTSYS 512
#endif

/*
 * __warn()/__bug() print file, line and the failed expression.  Warnings are
 * counted so a test can assert that a run produced none (mm_warn_count()).
 */
__cold void __warn(const char *file, int line, const char *expr);
__cold __attribute__((noreturn)) void __bug(const char *file, int line,
					    const char *expr);
unsigned long mm_warn_count(void);
/* Tests that provoke warnings on purpose silence the printing. */
void mm_warn_set_quiet(bool quiet);

#define WARN_ON(cond)                                      \
	({                                                 \
		bool __w = !!(cond);                       \
		if (unlikely(__w))                         \
			__warn(__FILE__, __LINE__, #cond); \
		__w;                                       \
	})

#define WARN_ON_ONCE(cond)                                                   \
	({                                                                   \
		static bool __warned;                                        \
		bool __w = !!(cond);                                         \
		if (unlikely(__w) &&                                         \
		    !__atomic_exchange_n(&__warned, true, __ATOMIC_RELAXED)) \
			__warn(__FILE__, __LINE__, #cond);                   \
		__w;                                                         \
	})

#define BUG_ON(cond)                                      \
	do {                                              \
		if (unlikely(cond))                       \
			__bug(__FILE__, __LINE__, #cond); \
	} while (0)
#define BUG() __bug(__FILE__, __LINE__, "BUG")

/* Pointer-encoded errors, as the kernel's ERR_PTR family. */
#define MAX_ERRNO 4095
static inline void *ERR_PTR(long error)
{
	return (void *)error;
}
static inline long PTR_ERR(const void *ptr)
{
	return (long)ptr;
}
static inline bool IS_ERR(const void *ptr)
{
	return unlikely((unsigned long)ptr >= (unsigned long)-MAX_ERRNO);
}
static inline bool IS_ERR_OR_NULL(const void *ptr)
{
	return !ptr || IS_ERR(ptr);
}

#endif /* MMIRROR_COMPILER_H */
