// SPDX-License-Identifier: MIT
/*
 * pins.c - DMA to pinned frames, and the life of pins.
 *
 * Each device's pins are remembered in one hash set keyed by (device id,
 * struct page), with the frame's generation when the pin was noted and a
 * count (a page may be pinned several times).  A pinned DMA
 * (check_pin_read/write) is:
 *
 *   CHECK_PIN            the device never noted a pin of the page, or
 *                        the folio's _pincount is 0 (nobody pins it);
 *   CHECK_USE_AFTER_FREE the frame's generation moved since the note
 *                        (the pin did not keep it alive);
 *   CHECK_LOST_WRITE     (reads) a word differs from its shadow.
 *
 * The host side, from hooks: a frame freed while its _pincount is not
 * zero, an unpin that would take _pincount below zero (gup.c WARNs and
 * refuses it), and check_finish(), which reports every folio still
 * pinned.  A device destroyed with pins noted reports each as a leak.
 *
 * pins_lock is a leaf, never held with another oracle lock.
 */
#include <stdlib.h>
#include "internal.h"

#define PIN_BUCKETS 256

struct pin_entry {
	struct pin_entry *next;
	unsigned int dev_id;
	struct page *page;
	unsigned long gen; /* the frame's generation at the first note */
	unsigned long count;
};

static DEFINE_SPINLOCK(pins_lock);
static struct pin_entry *pins[PIN_BUCKETS];
static atomic_long_t nr_pins; /* entries, read racily as a fast path */

static struct pin_entry **pin_bucket(unsigned int id, const struct page *page)
{
	return &pins[(page_to_pfn(page) * 31 + id) % PIN_BUCKETS];
}

/* The link pointing at (id, page)'s entry (pins_lock held). */
static struct pin_entry **pin_link(unsigned int id, const struct page *page)
{
	struct pin_entry **pp = pin_bucket(id, page);

	while (*pp && ((*pp)->dev_id != id || (*pp)->page != page))
		pp = &(*pp)->next;
	return pp;
}

/**
 * check_pin_note() - @dev holds a pin on @page.
 * @dev: the device.
 * @page: a page it pinned with pin_user_pages*().
 *
 * Context: any; takes a leaf lock.
 */
void check_pin_note(struct check_dev *dev, struct page *page)
{
	struct pin_entry **pp, *p;

	if (!dev || !page)
		return;
	/* Pairs with the WRITE_ONCEs in check_enable()/check_disable(). */
	if (!READ_ONCE(check_on)) {
		check_dev_set_unsure(dev, CHECK_UNSURE_PIN);
		return;
	}
	spin_lock(&pins_lock);
	pp = pin_link(dev->id, page);
	p = *pp;
	if (!p) {
		p = calloc(1, sizeof(*p));
		if (p) {
			p->dev_id = dev->id;
			p->page = page;
			/* Pairs with WRITE_ONCE(p->gen) in free_block(). */
			p->gen = READ_ONCE(page->gen);
			*pp = p;
			atomic_long_inc(&nr_pins);
		}
	}
	if (p)
		p->count++;
	spin_unlock(&pins_lock);
	if (!p)
		check_dev_set_unsure(dev, CHECK_UNSURE_PIN);
}

/**
 * check_pin_forget() - @dev is about to drop a pin on @page.
 * @dev: the device.
 * @page: the page, as given to check_pin_note().
 *
 * Works with the oracle off too.  Context: any; takes a leaf lock.
 */
void check_pin_forget(struct check_dev *dev, struct page *page)
{
	struct pin_entry **pp, *p;

	/* Pairs with the RMWs on nr_pins: nothing noted, nothing to do. */
	if (!dev || !page || !atomic_long_read(&nr_pins))
		return;
	spin_lock(&pins_lock);
	pp = pin_link(dev->id, page);
	p = *pp;
	if (p && !--p->count) {
		*pp = p->next;
		free(p);
		atomic_long_dec(&nr_pins);
	}
	spin_unlock(&pins_lock);
}

/* CHECK_PIN / CHECK_USE_AFTER_FREE verdict for a DMA; 0 if fine. */
static enum check_rule pin_judge(struct check_dev *dev, struct page *page,
				 char *what, size_t len)
{
	struct pin_entry *p;
	unsigned long gen = 0;
	bool noted;

	spin_lock(&pins_lock);
	p = *pin_link(dev->id, page);
	noted = p != NULL;
	if (p)
		gen = p->gen;
	spin_unlock(&pins_lock);
	if (!noted && !check_dev_unsure(dev, CHECK_UNSURE_PIN)) {
		snprintf(what, len, "DMA to a page the device never pinned");
		return CHECK_PIN;
	}
	if (!folio_pincount(page)) {
		snprintf(what, len, "DMA to a page nobody pins (_pincount 0)");
		return CHECK_PIN;
	}
	/* Pairs with WRITE_ONCE(p->gen) in free_block() (page_alloc.c). */
	if (noted && READ_ONCE(page->gen) != gen) {
		snprintf(what, len,
			 "DMA to a pinned frame that was freed since the pin "
			 "(generation %lu, now %lu)",
			 gen, READ_ONCE(page->gen));
		return CHECK_USE_AFTER_FREE;
	}
	return 0;
}

static int check_pin_access(struct check_dev *dev, struct page *page,
			    size_t offset, char *buf, size_t len, bool write)
{
	unsigned long pfn;
	enum check_rule rule;
	struct check_lost lost;
	char what[160];

	if (!dev || !page || !buf || !len || len > PAGE_SIZE ||
	    offset + len > PAGE_SIZE || !pfn_valid(page_to_pfn(page)))
		return -EINVAL;
	pfn = page_to_pfn(page);
	if (!READ_ONCE(check_on)) {
		check_frame_move(pfn, offset, buf, len, write, false);
		return 0;
	}
	rule = pin_judge(dev, page, what, sizeof(what));
	if (!check_frame_access(pfn, offset, buf, len, write, false, !rule,
				&lost)) {
		if (rule)
			check_report(rule, NULL, 0, pfn, dev->name, "%s", what);
		return 0;
	}
	check_report(CHECK_LOST_WRITE, NULL, 0, pfn, dev->name,
		     "pinned DMA read found %#llx where the last checked write "
		     "left %#llx (frame offset %#lx)",
		     (unsigned long long)lost.found,
		     (unsigned long long)lost.expected, lost.off);
	return 0;
}

/**
 * check_pin_read() - @dev DMAs @len bytes from byte @offset of @page.
 * @dev: the device.
 * @page: a page it pinned.
 * @offset: where in the page.
 * @buf: where the bytes go.
 * @len: how many (within the page).
 *
 * Context: any; takes leaf locks, never sleeps.
 * Return: 0 (the DMA happened), or -EINVAL with nothing moved.
 */
int check_pin_read(struct check_dev *dev, struct page *page, size_t offset,
		   void *buf, size_t len)
{
	return check_pin_access(dev, page, offset, buf, len, false);
}

/**
 * check_pin_write() - @dev DMAs @len bytes into byte @offset of @page.
 * @dev: the device.
 * @page: a page it pinned.
 * @offset: where in the page.
 * @buf: the bytes.
 * @len: how many (within the page).
 *
 * Context and return: as check_pin_read().
 */
int check_pin_write(struct check_dev *dev, struct page *page, size_t offset,
		    const void *buf, size_t len)
{
	return check_pin_access(dev, page, offset, (char *)buf, len, true);
}

/* The device goes: its remaining pins are leaks (when checking). */
void check_pins_dev_fini(struct check_dev *dev)
{
	struct pin_entry *leaked = NULL, **pp, *p;

	if (!atomic_long_read(&nr_pins))
		return;
	spin_lock(&pins_lock);
	for (int b = 0; b < PIN_BUCKETS; b++) {
		for (pp = &pins[b]; (p = *pp);) {
			if (p->dev_id != dev->id) {
				pp = &p->next;
				continue;
			}
			*pp = p->next;
			atomic_long_dec(&nr_pins);
			p->next = leaked;
			leaked = p;
		}
	}
	spin_unlock(&pins_lock);
	while ((p = leaked)) {
		leaked = p->next;
		if (READ_ONCE(check_on))
			check_report(CHECK_PIN, NULL, 0, page_to_pfn(p->page),
				     dev->name,
				     "device destroyed still holding %lu "
				     "pin(s) of this page (leak)",
				     p->count);
		free(p);
	}
}

/* check_finish(): every folio still pinned is a leak. */
void check_pins_finish(void)
{
	for (unsigned long pfn = 0; pfn < max_pfn; pfn++) {
		struct page *page = pfn_to_page(pfn);
		int n;

		if (PageTail(page))
			continue;
		n = atomic_read(&page->_pincount);
		if (n > 0)
			check_report(CHECK_PIN, NULL, 0, pfn, "host",
				     "frame still pinned at the end of the run "
				     "(_pincount %d): a pin leak",
				     n);
	}
}

/* Hook: a block is being freed. */
void check_pin_page_free(struct page *page, unsigned int order)
{
	int n = atomic_read(&page->_pincount);

	(void)order;
	if (n > 0)
		check_report(CHECK_PIN, NULL, 0, page_to_pfn(page), "host",
			     "frame freed while pinned (_pincount %d)", n);
}

/* Hook: an unpin of @n pins would take _pincount below zero. */
void check_unpin_underflow(struct page *head, int n)
{
	check_report(CHECK_PIN, NULL, 0, page_to_pfn(head), "host",
		     "unpin of %d pin(s) without a pin (_pincount %d)", n,
		     atomic_read(&head->_pincount));
}

/* Hook: GUP-fast holds @page; was it freed since the leaf was read? */
void check_gup_fast_grabbed(struct page *page, unsigned long addr,
			    unsigned long gen)
{
	/* Pairs with WRITE_ONCE(p->gen) in free_block() (page_alloc.c). */
	unsigned long now = READ_ONCE(page->gen);

	if (now != gen)
		check_report(CHECK_USE_AFTER_FREE, NULL, addr,
			     page_to_pfn(page), "gup-fast",
			     "GUP-fast grabbed a frame freed under it "
			     "(generation %lu at the entry read, now %lu)",
			     gen, now);
}
