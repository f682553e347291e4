#!/bin/sh
# /init of the real-kernel lab's initramfs (packed by `cargo xtask lab`).
# Mounts the pseudo filesystems, loads the lab modules and the FPGA KUnit
# suites, runs the guest checks, and powers off. Everything the xtask
# parses is a line starting with LAB-.
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t debugfs debugfs /sys/kernel/debug
mount -t configfs configfs /sys/kernel/config
mount -t tmpfs tmpfs /tmp
echo "LAB-BOOT kernel $(cat /proc/sys/kernel/osrelease 2>/dev/null || uname -r) up after $(cut -d' ' -f1 /proc/uptime)s"
for m in lab_devlink lab_fpga lab_overlay fpga-mgr-test fpga-bridge-test fpga-region-test; do
    if ! insmod /lib/modules/lab/$m.ko; then
        echo "LAB-RESULT insmod/$m FAIL insmod failed"
    fi
done
/bin/lab-guest $(cat /lab/args 2>/dev/null)
echo "LAB-EXIT $?"
sync
poweroff -f
