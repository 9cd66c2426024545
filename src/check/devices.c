// SPDX-License-Identifier: MIT
/*
 * devices.c - devices as the oracle knows them: ids, the list of live
 * devices, and the "unsure" marks of devices that mapped or pinned while
 * the oracle was off (whose accesses therefore cannot be held to the
 * registry or the pin set).
 */
#include "internal.h"

#define CHECK_UNSURE_SLOTS 65536

/* Live devices (check_dev.node), and device ids. */
static DEFINE_SPINLOCK(devs_lock);
static LIST_HEAD(devs);
static atomic_t next_dev_id;
/* Per device id (modulo): CHECK_UNSURE_* bits, relaxed atomic bytes. */
static u8 dev_unsure[CHECK_UNSURE_SLOTS];

/* --- devices ----------------------------------------------------------- */

void check_dev_set_unsure(const struct check_dev *dev, int what)
{
	u8 *slot = &dev_unsure[dev->id % CHECK_UNSURE_SLOTS];

	/* Relaxed: read by check_dev_unsure() in the same driver's later
	 * accesses, which the driver orders after its map. */
	__atomic_fetch_or(slot, (u8)what, __ATOMIC_RELAXED);
}

bool check_dev_unsure(const struct check_dev *dev, int what)
{
	/* Pairs with the fetch_or in check_dev_set_unsure(). */
	return READ_ONCE(dev_unsure[dev->id % CHECK_UNSURE_SLOTS]) & what;
}

/**
 * check_dev_init() - make @dev known to the oracle.
 * @dev: the device (embedded in the driver's).
 * @name: its name in reports (truncated to 31 characters).
 *
 * Context: any.
 */
void check_dev_init(struct check_dev *dev, const char *name)
{
	if (!dev)
		return;
	snprintf(dev->name, sizeof(dev->name), "%s", name ? name : "dev");
	dev->id = (unsigned int)atomic_inc_return(&next_dev_id);
	WRITE_ONCE(dev_unsure[dev->id % CHECK_UNSURE_SLOTS], 0);
	spin_lock(&devs_lock);
	list_add_tail(&dev->node, &devs);
	spin_unlock(&devs_lock);
}

/**
 * check_dev_fini() - @dev is going away.
 * @dev: a device passed to check_dev_init().
 *
 * Forgets its translations; pins it still holds are reported as leaks
 * (oracle on) and forgotten.  Context: any; after the device's last
 * access.
 */
void check_dev_fini(struct check_dev *dev)
{
	if (!dev)
		return;
	spin_lock(&devs_lock);
	list_del_init(&dev->node);
	spin_unlock(&devs_lock);
	check_xlate_forget_dev(dev);
	check_pins_dev_fini(dev);
}
