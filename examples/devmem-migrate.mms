# Device-private memory: a GPU-like mirror device moves a buffer into its
# own memory, works on it there, and the CPU, a fork and the device's
# removal each bring pages back - with every byte intact.
#
#   mmirror run examples/devmem-migrate.mms
#
# docs/devmem.md explains device-private entries and migrate_vma.

process p
map p buf 64K
cpu p c
mirror gpu p
devmem gpu 32

store c buf 0x1111
migrate gpu buf device                # migrate_vma: 16 pages to the device
snapshot gpu buf expect dev*16        # the device sees its own pages
expect gpu.dev_free == 16
read gpu buf expect 0x1111            # device reads, in device memory
write gpu buf[0:8K] 0x2222            # device writes, in device memory

# A CPU touch faults and the driver migrates the page back (migrate_to_ram).
load c buf[0:4K] expect 0x2222
expect gpu.cpu_faults == 1
snapshot gpu buf[0:8K] expect rw dev

# Fork: both processes share the device pages read-only; the child's
# write migrates its page back and breaks COW.
fork p child
cpu child cc
store cc buf[8K:12K] 0x3333
load c buf[8K:12K] expect 0x1111
load cc buf[8K:12K] expect 0x3333
exit child

# The device memory goes away while the process still maps it: every
# page is migrated back first (migrate_device_range), then removed.
release gpu
expect gpu.dev_pages == 0
load c buf[4K:8K] expect 0x2222
load c buf[12K:] expect 0x1111
read gpu buf[4K:8K] expect 0x2222     # the device now reads system memory
expect violations none
