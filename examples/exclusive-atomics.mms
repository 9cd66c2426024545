# Device atomics through device-exclusive entries (make_device_exclusive):
# while the device holds a page exclusive, any CPU access takes it back
# with an EXCLUSIVE invalidation, and the device must ask again.
#
#   mmirror run examples/exclusive-atomics.mms
#
# docs/exclusive.md explains the handshake.

process p
map p ctr 8K
cpu p c
mirror gpu p

store c ctr 0
exclusive gpu ctr                     # both pages exclusive to the device
snapshot gpu ctr expect none*2        # no CPU mapping while exclusive
atomic gpu ctr+0 5 expect 0           # old value 0
atomic gpu ctr+0 5 expect 5
load c ctr+0 expect 10                # the CPU takes the page back ...
atomic gpu ctr+0 1 expect -EBUSY      # ... and the device's atomic mapping
exclusive gpu ctr[0:4K]
atomic gpu ctr+0 1 expect 10
atomic gpu ctr+4096 7 expect 0        # the other page was never touched

# mprotect and fork both end exclusivity; the data stays.
mprotect p ctr r
load c ctr+4096 expect 7
fork p child
cpu child cc
load cc ctr+0 expect 11
expect gpu.atomics == 4
expect violations none
