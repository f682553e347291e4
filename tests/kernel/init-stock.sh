#!/bin/sh
# /init of the lab's stock-kernel initramfs (packed by `cargo xtask lab`
# around a Debian prebuilt kernel and the modules it needs). Mounts the
# pseudo filesystems, indexes the modules, loads a driver for every device
# the way udev's coldplug does (the `modalias` of every device, again
# after each round, since a driver makes new devices), loads the modules
# no device asks for, runs `lab-guest stock NAME`, and powers off.
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t debugfs debugfs /sys/kernel/debug
mount -t tmpfs tmpfs /tmp
echo "LAB-BOOT kernel $(cat /proc/sys/kernel/osrelease) up after $(cut -d' ' -f1 /proc/uptime)s"
depmod
# Rounds until every module /lab/expect-coldplug names is loaded (USB and
# SCSI enumerate asynchronously: a device appears some time after its
# bus's driver loads), at most 60 rounds of a quarter second.
loaded() {
    for m in $(cat /lab/expect-coldplug 2>/dev/null); do
        grep -q "^$m " /proc/modules || return 1
    done
}
round=0
while [ "$round" -lt 60 ]; do
    find /sys/devices -name modalias -exec cat {} + 2>/dev/null | sort -u | xargs modprobe -a -q 2>/dev/null
    round=$((round + 1))
    loaded && break
    sleep 0.25
done
# Disks appear after their driver loads (SCSI scanning is asynchronous):
# wait, as for the modules, for as many sd disks as /lab/expect-disks says.
disks() { ls /sys/class/block 2>/dev/null | grep -c '^sd[a-z]*$'; }
want=$(cat /lab/expect-disks 2>/dev/null || echo 0)
while [ "$(disks)" -lt "$want" ] && [ "$round" -lt 60 ]; do
    round=$((round + 1))
    sleep 0.25
done
# Devices no bus announces: compressed RAM disks, bonds, the UIO driver the
# edu device is given by hand, the SPD EEPROM drivers.
for m in zram bonding uio_pci_generic at24 ee1004; do
    modprobe -q "$m" 2>/dev/null
done
# The lab's own module, built for this kernel from its headers (the
# conformance board). Unsigned: the kernel loads it and taints itself.
if [ -f /lib/modules/lab/lab_devlink.ko ] && ! insmod /lib/modules/lab/lab_devlink.ko; then
    echo "LAB-RESULT insmod/lab_devlink FAIL insmod failed"
fi
echo "LAB-BOOT coldplug done after $round round(s) at $(cut -d' ' -f1 /proc/uptime)s: $(wc -l < /proc/modules) modules"
/bin/lab-guest $(cat /lab/args 2>/dev/null)
echo "LAB-EXIT $?"
sync
poweroff -f
