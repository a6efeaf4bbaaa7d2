#!/bin/sh
# dom0 stage 1 (initramfs /init): Debian's kernel has virtio-blk and ext4 as modules, so load them,
# mount the root disk and hand over to /sbin/e2e-init. Nothing else happens here.
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for ko in $(cat /modules.order); do insmod "$ko" 2>/dev/null; done
i=0; while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
echo "E2E-STAGE1: root /dev/vda at uptime $(cut -d' ' -f1 /proc/uptime)s"
mount -t ext4 -o rw /dev/vda /newroot || { echo "E2E-STAGE1: cannot mount /dev/vda"; exec sh; }
umount /proc /sys; mount --move /dev /newroot/dev
exec switch_root /newroot /sbin/e2e-init
