// SPDX-License-Identifier: GPL-2.0
/*
 * lab_fpga: a fake FPGA stack for the real-kernel lab.
 *
 * Registers, under the root device /sys/devices/lab-fpga:
 *  - an FPGA manager ("Lab FPGA Manager") whose parse_header, write_init,
 *    write and write_complete ops succeed or fail on command, whose status
 *    op returns a settable bit set, and which carries a write-only
 *    `firmware` attribute with the Xilinx semantics (the written name,
 *    one trailing newline stripped, is loaded synchronously through
 *    fpga_mgr_load(); the write returns the byte count or the load's
 *    error) plus the Xilinx `flags` attribute (hex, copied into the image
 *    info of every `firmware` load);
 *  - a bridge ("Lab FPGA Bridge"), enabled at start;
 *  - a region with compat_id 0x0123456789abcdef:0xfedcba9876543210, and on
 *    command a second region without a compat_id (whose compat_id read
 *    fails with ENOENT after a successful open).
 *
 * Control through /sys/kernel/debug/lab-fpga/ctl:
 *   fail OP ERRNO      OP in parse_header|write_init|write|write_complete
 *   ok                 every op succeeds again
 *   status BITS        what the status op returns
 *   bridge 0|1         disable / enable the bridge through fpga_bridge_*()
 *   region-noid 1|0    register / unregister the region without compat_id
 *   board MGR BR REG   move the manager, the bridge and the region (with its
 *                      compat_id) onto the platform devices named MGR, BR and
 *                      REG (the conformance board; lab_devlink makes them)
 *   board-off          move them back under /sys/devices/lab-fpga
 * and /sys/kernel/debug/lab-fpga/last: "bytes=N sum=S flags=F" of the last
 * image the manager was given (sum: byte sum modulo 2^32).
 *
 * For the device-tree lab, two platform drivers register the same stack on
 * device-tree nodes, so the kernel's of-fpga-region finds it by phandle:
 * "lab,fpga-manager" (a manager "Lab OF FPGA Manager" with the same ops,
 * failures and `last` record) and "lab,fpga-bridge" ("Lab OF FPGA
 * Bridge").
 */

#include <linux/module.h>
#include <linux/device.h>
#include <linux/platform_device.h>
#include <linux/debugfs.h>
#include <linux/fpga/fpga-mgr.h>
#include <linux/fpga/fpga-bridge.h>
#include <linux/fpga/fpga-region.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/mod_devicetable.h>
#include <linux/of.h>

enum lab_op { OP_PARSE_HEADER, OP_WRITE_INIT, OP_WRITE, OP_WRITE_COMPLETE, OP_COUNT };
static const char *const lab_op_names[OP_COUNT] = {
	"parse_header", "write_init", "write", "write_complete",
};

static DEFINE_MUTEX(lab_fpga_lock);
static int lab_fail[OP_COUNT];
static u64 lab_status;
static bool lab_bridge_on = true;
static size_t lab_bytes;
static u32 lab_sum;
static u32 lab_last_flags;
static u32 lab_sysfs_flags;

static struct device *lab_root;
/* The platform devices the stack hangs off while `board` is on. */
static struct device *lab_hosts[3];
static struct fpga_manager *lab_mgr;
static struct fpga_bridge *lab_br;
static struct fpga_region *lab_region, *lab_region_noid;
static struct dentry *lab_dir;
static struct fpga_compat_id lab_compat = {
	.id_h = 0x0123456789abcdefULL,
	.id_l = 0xfedcba9876543210ULL,
};

static enum fpga_mgr_states lab_mgr_state(struct fpga_manager *mgr)
{
	return FPGA_MGR_STATE_OPERATING;
}

static u64 lab_mgr_status(struct fpga_manager *mgr)
{
	return READ_ONCE(lab_status);
}

static int lab_parse_header(struct fpga_manager *mgr, struct fpga_image_info *info,
			    const char *buf, size_t count)
{
	return lab_fail[OP_PARSE_HEADER];
}

static int lab_write_init(struct fpga_manager *mgr, struct fpga_image_info *info,
			  const char *buf, size_t count)
{
	lab_bytes = 0;
	lab_sum = 0;
	lab_last_flags = info->flags;
	return lab_fail[OP_WRITE_INIT];
}

static int lab_write(struct fpga_manager *mgr, const char *buf, size_t count)
{
	size_t i;

	for (i = 0; i < count; i++)
		lab_sum += (u8)buf[i];
	lab_bytes += count;
	return lab_fail[OP_WRITE];
}

static int lab_write_complete(struct fpga_manager *mgr, struct fpga_image_info *info)
{
	return lab_fail[OP_WRITE_COMPLETE];
}

/* Xilinx `firmware`: load the named file synchronously, no manager lock. */
static ssize_t firmware_store(struct device *dev, struct device_attribute *attr,
			      const char *buf, size_t count)
{
	struct fpga_manager *mgr = to_fpga_manager(dev);
	struct fpga_image_info *info;
	char *name;
	size_t len = count;
	int ret;

	if (len && buf[len - 1] == '\n')
		len--;
	if (len == 0 || len > 255)
		return -EINVAL;
	info = fpga_image_info_alloc(&mgr->dev);
	if (!info)
		return -ENOMEM;
	name = devm_kmemdup(&mgr->dev, buf, len + 1, GFP_KERNEL);
	if (!name) {
		fpga_image_info_free(info);
		return -ENOMEM;
	}
	name[len] = '\0';
	info->firmware_name = name;
	info->flags = READ_ONCE(lab_sysfs_flags);
	ret = fpga_mgr_load(mgr, info);
	fpga_image_info_free(info);
	return ret ? ret : count;
}
static DEVICE_ATTR_WO(firmware);

static ssize_t flags_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%x\n", READ_ONCE(lab_sysfs_flags));
}

static ssize_t flags_store(struct device *dev, struct device_attribute *attr,
			   const char *buf, size_t count)
{
	u32 v;

	if (kstrtou32(buf, 16, &v))
		return -EINVAL;
	WRITE_ONCE(lab_sysfs_flags, v);
	return count;
}
static DEVICE_ATTR_RW(flags);

static struct attribute *lab_mgr_attrs[] = {
	&dev_attr_firmware.attr,
	&dev_attr_flags.attr,
	NULL,
};
ATTRIBUTE_GROUPS(lab_mgr);

static const struct fpga_manager_ops lab_mops = {
	.state = lab_mgr_state,
	.status = lab_mgr_status,
	.parse_header = lab_parse_header,
	.write_init = lab_write_init,
	.write = lab_write,
	.write_complete = lab_write_complete,
	.groups = lab_mgr_groups,
};

static int lab_br_enable_show(struct fpga_bridge *br)
{
	return READ_ONCE(lab_bridge_on);
}

static int lab_br_enable_set(struct fpga_bridge *br, bool enable)
{
	WRITE_ONCE(lab_bridge_on, enable);
	return 0;
}

static const struct fpga_bridge_ops lab_br_ops = {
	.enable_show = lab_br_enable_show,
	.enable_set = lab_br_enable_set,
};

static const struct fpga_manager_info lab_minfo = {
	.name = "Lab FPGA Manager",
	.mops = &lab_mops,
};

/* Registers the manager, bridge and region on the given parents. */
static int lab_register(struct device *mgr_parent, struct device *br_parent,
			struct device *reg_parent)
{
	struct fpga_region_info rinfo = { };
	int err;

	lab_mgr = fpga_mgr_register_full(mgr_parent, &lab_minfo);
	if (IS_ERR(lab_mgr)) {
		err = PTR_ERR(lab_mgr);
		lab_mgr = NULL;
		return err;
	}
	lab_br = fpga_bridge_register(br_parent, "Lab FPGA Bridge", &lab_br_ops, NULL);
	if (IS_ERR(lab_br)) {
		err = PTR_ERR(lab_br);
		lab_br = NULL;
		goto err_mgr;
	}
	rinfo.mgr = lab_mgr;
	rinfo.compat_id = &lab_compat;
	lab_region = fpga_region_register_full(reg_parent, &rinfo);
	if (IS_ERR(lab_region)) {
		err = PTR_ERR(lab_region);
		lab_region = NULL;
		goto err_br;
	}
	return 0;

err_br:
	fpga_bridge_unregister(lab_br);
	lab_br = NULL;
err_mgr:
	fpga_mgr_unregister(lab_mgr);
	lab_mgr = NULL;
	return err;
}

static void lab_unregister(void)
{
	if (lab_region)
		fpga_region_unregister(lab_region);
	if (lab_br)
		fpga_bridge_unregister(lab_br);
	if (lab_mgr)
		fpga_mgr_unregister(lab_mgr);
	lab_region = NULL;
	lab_br = NULL;
	lab_mgr = NULL;
}

static void lab_put_hosts(void)
{
	int i;

	for (i = 0; i < 3; i++) {
		put_device(lab_hosts[i]);
		lab_hosts[i] = NULL;
	}
}

/* `board MGR BR REG` and `board-off`. */
static int lab_board(char *line)
{
	struct device *hosts[3] = { };
	char *name;
	int i, err;

	if (lab_region_noid)
		return -EBUSY;
	for (i = 0; i < 3; i++) {
		name = strsep(&line, " ");
		if (!name || !*name) {
			err = -EINVAL;
			goto err_put;
		}
		hosts[i] = bus_find_device_by_name(&platform_bus_type, NULL, name);
		if (!hosts[i]) {
			err = -ENODEV;
			goto err_put;
		}
	}
	lab_unregister();
	lab_put_hosts();
	err = lab_register(hosts[0], hosts[1], hosts[2]);
	if (err) {
		lab_register(lab_root, lab_root, lab_root);
		goto err_put;
	}
	memcpy(lab_hosts, hosts, sizeof(hosts));
	return 0;

err_put:
	for (i = 0; i < 3; i++)
		put_device(hosts[i]);
	return err;
}

static int lab_board_off(void)
{
	lab_unregister();
	lab_put_hosts();
	return lab_register(lab_root, lab_root, lab_root);
}

static int lab_run(char *line)
{
	char *cmd = strsep(&line, " ");
	char *a;
	int i, v;

	if (!cmd)
		return -EINVAL;
	if (!strcmp(cmd, "ok")) {
		for (i = 0; i < OP_COUNT; i++)
			lab_fail[i] = 0;
		return 0;
	}
	if (!strcmp(cmd, "status")) {
		u64 bits;

		if (!line || kstrtou64(line, 0, &bits))
			return -EINVAL;
		WRITE_ONCE(lab_status, bits);
		return 0;
	}
	if (!strcmp(cmd, "bridge")) {
		if (!line || kstrtoint(line, 0, &v) || !lab_br)
			return -EINVAL;
		return v ? fpga_bridge_enable(lab_br) : fpga_bridge_disable(lab_br);
	}
	if (!strcmp(cmd, "board"))
		return line ? lab_board(line) : -EINVAL;
	if (!strcmp(cmd, "board-off"))
		return lab_board_off();
	if (!strcmp(cmd, "region-noid")) {
		struct fpga_region_info rinfo = { .mgr = lab_mgr };

		if (!line || kstrtoint(line, 0, &v))
			return -EINVAL;
		if (v && !lab_region_noid) {
			lab_region_noid = fpga_region_register_full(lab_root, &rinfo);
			if (IS_ERR(lab_region_noid)) {
				v = PTR_ERR(lab_region_noid);
				lab_region_noid = NULL;
				return v;
			}
		} else if (!v && lab_region_noid) {
			fpga_region_unregister(lab_region_noid);
			lab_region_noid = NULL;
		}
		return 0;
	}
	if (!strcmp(cmd, "fail")) {
		a = strsep(&line, " ");
		if (!a || !line || kstrtoint(line, 0, &v) || v > 0)
			return -EINVAL;
		for (i = 0; i < OP_COUNT; i++)
			if (!strcmp(a, lab_op_names[i])) {
				lab_fail[i] = v;
				return 0;
			}
	}
	return -EINVAL;
}

static ssize_t lab_ctl_write(struct file *file, const char __user *ubuf,
			     size_t count, loff_t *ppos)
{
	char *buf;
	int ret;

	if (count == 0 || count > 100)
		return -EINVAL;
	buf = memdup_user_nul(ubuf, count);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	strim(buf);
	mutex_lock(&lab_fpga_lock);
	ret = lab_run(buf);
	mutex_unlock(&lab_fpga_lock);
	kfree(buf);
	return ret ? ret : count;
}

static const struct file_operations lab_ctl_fops = {
	.owner = THIS_MODULE,
	.write = lab_ctl_write,
	.llseek = default_llseek,
};

static ssize_t lab_last_read(struct file *file, char __user *ubuf, size_t count,
			     loff_t *ppos)
{
	char out[96];
	int len;

	len = scnprintf(out, sizeof(out), "bytes=%zu sum=%u flags=%x\n",
			lab_bytes, lab_sum, lab_last_flags);
	return simple_read_from_buffer(ubuf, count, ppos, out, len);
}

static const struct file_operations lab_last_fops = {
	.owner = THIS_MODULE,
	.read = lab_last_read,
	.llseek = default_llseek,
};

/* The device-tree manager and bridge (nodes "lab,fpga-manager", "lab,fpga-bridge"). */
static const struct fpga_manager_info lab_of_minfo = {
	.name = "Lab OF FPGA Manager",
	.mops = &lab_mops,
};

static bool lab_of_bridge_on = true;

static int lab_of_br_enable_show(struct fpga_bridge *br)
{
	return READ_ONCE(lab_of_bridge_on);
}

static int lab_of_br_enable_set(struct fpga_bridge *br, bool enable)
{
	WRITE_ONCE(lab_of_bridge_on, enable);
	return 0;
}

static const struct fpga_bridge_ops lab_of_br_ops = {
	.enable_show = lab_of_br_enable_show,
	.enable_set = lab_of_br_enable_set,
};

static int lab_of_mgr_probe(struct platform_device *pdev)
{
	struct fpga_manager *mgr = fpga_mgr_register_full(&pdev->dev, &lab_of_minfo);

	if (IS_ERR(mgr))
		return PTR_ERR(mgr);
	platform_set_drvdata(pdev, mgr);
	return 0;
}

static void lab_of_mgr_remove(struct platform_device *pdev)
{
	fpga_mgr_unregister(platform_get_drvdata(pdev));
}

static int lab_of_br_probe(struct platform_device *pdev)
{
	struct fpga_bridge *br = fpga_bridge_register(&pdev->dev, "Lab OF FPGA Bridge",
						      &lab_of_br_ops, NULL);

	if (IS_ERR(br))
		return PTR_ERR(br);
	platform_set_drvdata(pdev, br);
	return 0;
}

static void lab_of_br_remove(struct platform_device *pdev)
{
	fpga_bridge_unregister(platform_get_drvdata(pdev));
}

static const struct of_device_id lab_of_mgr_match[] = {
	{ .compatible = "lab,fpga-manager" },
	{ }
};
MODULE_DEVICE_TABLE(of, lab_of_mgr_match);

static const struct of_device_id lab_of_br_match[] = {
	{ .compatible = "lab,fpga-bridge" },
	{ }
};

static struct platform_driver lab_of_mgr_driver = {
	.probe = lab_of_mgr_probe,
	.remove = lab_of_mgr_remove,
	.driver = { .name = "lab-fpga-mgr", .of_match_table = lab_of_mgr_match },
};

static struct platform_driver lab_of_br_driver = {
	.probe = lab_of_br_probe,
	.remove = lab_of_br_remove,
	.driver = { .name = "lab-fpga-bridge", .of_match_table = lab_of_br_match },
};

static int __init lab_fpga_init(void)
{
	int err;

	lab_root = root_device_register("lab-fpga");
	if (IS_ERR(lab_root))
		return PTR_ERR(lab_root);
	err = lab_register(lab_root, lab_root, lab_root);
	if (err) {
		root_device_unregister(lab_root);
		return err;
	}
	lab_dir = debugfs_create_dir("lab-fpga", NULL);
	debugfs_create_file("ctl", 0200, lab_dir, NULL, &lab_ctl_fops);
	debugfs_create_file("last", 0400, lab_dir, NULL, &lab_last_fops);
	err = platform_driver_register(&lab_of_mgr_driver);
	if (!err) {
		err = platform_driver_register(&lab_of_br_driver);
		if (err)
			platform_driver_unregister(&lab_of_mgr_driver);
	}
	if (err) {
		debugfs_remove_recursive(lab_dir);
		lab_unregister();
		root_device_unregister(lab_root);
	}
	return err;
}

static void __exit lab_fpga_exit(void)
{
	platform_driver_unregister(&lab_of_br_driver);
	platform_driver_unregister(&lab_of_mgr_driver);
	debugfs_remove_recursive(lab_dir);
	if (lab_region_noid)
		fpga_region_unregister(lab_region_noid);
	lab_unregister();
	lab_put_hosts();
	root_device_unregister(lab_root);
}

module_init(lab_fpga_init);
module_exit(lab_fpga_exit);
MODULE_DESCRIPTION("Fake FPGA manager, bridge and regions for the real-kernel lab");
MODULE_LICENSE("GPL");
