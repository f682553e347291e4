// SPDX-License-Identifier: GPL-2.0
/*
 * lab_overlay: the configfs device-tree overlay interface of vendor and
 * Raspberry Pi kernels, for the real-kernel lab, on top of mainline's own
 * overlay engine (of_overlay_fdt_apply / of_overlay_remove).
 *
 * Mainline has no user-space overlay interface. Xilinx, Altera and
 * Raspberry Pi kernels carry the same out-of-tree ABI, which this module
 * offers unchanged so that the live-kernel backend talks to the kernel's
 * real overlay code, its changeset notifiers and of-fpga-region:
 *
 *   mkdir /sys/kernel/config/device-tree/overlays/SLOT
 *   echo FILE > .../SLOT/path     request_firmware(FILE), then apply it; the
 *                                 write fails with the apply's error and
 *                                 `path` is empty again after a failure
 *   cat BLOB > .../SLOT/dtbo      the same with the blob itself
 *   cat .../SLOT/status           "applied" once the kernel handed out a
 *                                 changeset id (as vendor kernels do, also
 *                                 after a failed apply), else "unapplied"
 *   rmdir .../SLOT                of_overlay_remove(); an error (say EBUSY:
 *                                 not the topmost overlay) is only logged
 *                                 and the overlay stays, as in the vendor
 *                                 modules, which is why user space must
 *                                 keep the order
 *
 * `path` and `dtbo` are one-shot: a second write is EPERM.
 *
 * Lab-only control, /sys/kernel/debug/lab-overlay/ctl:
 *   hold NODE-PATH   take (and keep) a reference on a device-tree node:
 *                    removing the overlay that made it then makes the
 *                    kernel warn "memory leak, expected refcount 1 ..."
 *   release          drop the held references
 *
 * Also a platform driver "lab-dt" for nodes compatible with
 * "lab,dt-device": a device created from an overlay that binds (or is
 * held back by fw_devlink until its suppliers bind).
 */

#include <linux/module.h>
#include <linux/configfs.h>
#include <linux/debugfs.h>
#include <linux/firmware.h>
#include <linux/mod_devicetable.h>
#include <linux/of.h>
#include <linux/platform_device.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>

struct lab_ov {
	struct config_item item;
	char slot[64];
	char path[PATH_MAX];
	const struct firmware *fw;
	void *dtbo;
	size_t dtbo_size;
	int ovcs_id;
};

static inline struct lab_ov *to_lab_ov(struct config_item *item)
{
	return container_of(item, struct lab_ov, item);
}

static int lab_ov_apply(struct lab_ov *ov, const void *blob, size_t size)
{
	int err;

	err = of_overlay_fdt_apply(blob, size, &ov->ovcs_id, NULL);
	if (err < 0)
		pr_err("lab_overlay: %s: apply failed: %d\n", ov->slot, err);
	return err;
}

static ssize_t lab_ov_path_show(struct config_item *item, char *page)
{
	return sprintf(page, "%s\n", to_lab_ov(item)->path);
}

static ssize_t lab_ov_path_store(struct config_item *item, const char *page,
				 size_t count)
{
	struct lab_ov *ov = to_lab_ov(item);
	size_t len = strnlen(page, count);
	int err;

	if (ov->path[0] || ov->dtbo_size)
		return -EPERM;
	while (len && page[len - 1] == '\n')
		len--;
	if (len == 0 || len >= sizeof(ov->path))
		return -EINVAL;
	memcpy(ov->path, page, len);
	ov->path[len] = '\0';
	err = request_firmware(&ov->fw, ov->path, NULL);
	if (!err)
		err = lab_ov_apply(ov, ov->fw->data, ov->fw->size);
	if (err) {
		release_firmware(ov->fw);
		ov->fw = NULL;
		ov->path[0] = '\0';
		return err;
	}
	return count;
}

static ssize_t lab_ov_status_show(struct config_item *item, char *page)
{
	return sprintf(page, "%s\n", to_lab_ov(item)->ovcs_id > 0 ? "applied" : "unapplied");
}

static ssize_t lab_ov_dtbo_read(struct config_item *item, void *buf, size_t max)
{
	struct lab_ov *ov = to_lab_ov(item);

	if (!ov->dtbo)
		return 0;
	if (!buf)
		return ov->dtbo_size;
	if (max < ov->dtbo_size)
		return -EFBIG;
	memcpy(buf, ov->dtbo, ov->dtbo_size);
	return ov->dtbo_size;
}

static ssize_t lab_ov_dtbo_write(struct config_item *item, const void *buf,
				 size_t count)
{
	struct lab_ov *ov = to_lab_ov(item);
	int err;

	if (ov->path[0] || ov->dtbo_size)
		return -EPERM;
	ov->dtbo = kmemdup(buf, count, GFP_KERNEL);
	if (!ov->dtbo)
		return -ENOMEM;
	ov->dtbo_size = count;
	err = lab_ov_apply(ov, ov->dtbo, count);
	if (err) {
		kfree(ov->dtbo);
		ov->dtbo = NULL;
		ov->dtbo_size = 0;
		return err;
	}
	return count;
}

CONFIGFS_ATTR(lab_ov_, path);
CONFIGFS_ATTR_RO(lab_ov_, status);
CONFIGFS_BIN_ATTR(lab_ov_, dtbo, NULL, SZ_1M);

static struct configfs_attribute *lab_ov_attrs[] = {
	&lab_ov_attr_path,
	&lab_ov_attr_status,
	NULL,
};

static struct configfs_bin_attribute *lab_ov_bin_attrs[] = {
	&lab_ov_attr_dtbo,
	NULL,
};

static void lab_ov_release(struct config_item *item)
{
	struct lab_ov *ov = to_lab_ov(item);
	int err;

	if (ov->ovcs_id > 0) {
		err = of_overlay_remove(&ov->ovcs_id);
		if (err)
			pr_err("lab_overlay: %s: removal failed: %d; the overlay stays applied\n",
			       ov->slot, err);
	}
	release_firmware(ov->fw);
	kfree(ov->dtbo);
	kfree(ov);
}

static struct configfs_item_operations lab_ov_item_ops = {
	.release = lab_ov_release,
};

static const struct config_item_type lab_ov_type = {
	.ct_item_ops = &lab_ov_item_ops,
	.ct_attrs = lab_ov_attrs,
	.ct_bin_attrs = lab_ov_bin_attrs,
	.ct_owner = THIS_MODULE,
};

static struct config_item *lab_ovs_make_item(struct config_group *group,
					     const char *name)
{
	struct lab_ov *ov = kzalloc(sizeof(*ov), GFP_KERNEL);

	if (!ov)
		return ERR_PTR(-ENOMEM);
	strscpy(ov->slot, name, sizeof(ov->slot));
	config_item_init_type_name(&ov->item, name, &lab_ov_type);
	return &ov->item;
}

static void lab_ovs_drop_item(struct config_group *group, struct config_item *item)
{
	config_item_put(item);
}

static struct configfs_group_operations lab_ovs_group_ops = {
	.make_item = lab_ovs_make_item,
	.drop_item = lab_ovs_drop_item,
};

static const struct config_item_type lab_ovs_type = {
	.ct_group_ops = &lab_ovs_group_ops,
	.ct_owner = THIS_MODULE,
};

static const struct config_item_type lab_dt_subsys_type = {
	.ct_owner = THIS_MODULE,
};

static struct config_group lab_ovs_group;

static struct configfs_subsystem lab_dt_subsys = {
	.su_group = {
		.cg_item = {
			.ci_namebuf = "device-tree",
			.ci_type = &lab_dt_subsys_type,
		},
	},
	.su_mutex = __MUTEX_INITIALIZER(lab_dt_subsys.su_mutex),
};

/* Held node references (`hold`). */
#define LAB_HOLD_MAX 8
static DEFINE_MUTEX(lab_hold_lock);
static struct device_node *lab_held[LAB_HOLD_MAX];
static struct dentry *lab_dir;

static void lab_release_held(void)
{
	int i;

	for (i = 0; i < LAB_HOLD_MAX; i++) {
		of_node_put(lab_held[i]);
		lab_held[i] = NULL;
	}
}

static int lab_run(char *line)
{
	char *cmd = strsep(&line, " ");
	int i;

	if (!cmd)
		return -EINVAL;
	if (!strcmp(cmd, "hold") && line && *line) {
		for (i = 0; i < LAB_HOLD_MAX && lab_held[i]; i++)
			;
		if (i == LAB_HOLD_MAX)
			return -ENOSPC;
		lab_held[i] = of_find_node_by_path(line);
		return lab_held[i] ? 0 : -ENOENT;
	}
	if (!strcmp(cmd, "release") && !line) {
		lab_release_held();
		return 0;
	}
	return -EINVAL;
}

static ssize_t lab_ctl_write(struct file *file, const char __user *ubuf,
			     size_t count, loff_t *ppos)
{
	char *buf;
	int ret;

	if (count == 0 || count > 256)
		return -EINVAL;
	buf = memdup_user_nul(ubuf, count);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	strim(buf);
	mutex_lock(&lab_hold_lock);
	ret = lab_run(buf);
	mutex_unlock(&lab_hold_lock);
	kfree(buf);
	return ret ? ret : count;
}

static const struct file_operations lab_ctl_fops = {
	.owner = THIS_MODULE,
	.write = lab_ctl_write,
	.llseek = default_llseek,
};

static int lab_dt_probe(struct platform_device *pdev)
{
	return 0;
}

static const struct of_device_id lab_dt_match[] = {
	{ .compatible = "lab,dt-device" },
	{ }
};
MODULE_DEVICE_TABLE(of, lab_dt_match);

static struct platform_driver lab_dt_driver = {
	.probe = lab_dt_probe,
	.driver = {
		.name = "lab-dt",
		.of_match_table = lab_dt_match,
	},
};

static int __init lab_overlay_init(void)
{
	int err;

	err = platform_driver_register(&lab_dt_driver);
	if (err)
		return err;
	config_group_init(&lab_dt_subsys.su_group);
	config_group_init_type_name(&lab_ovs_group, "overlays", &lab_ovs_type);
	configfs_add_default_group(&lab_ovs_group, &lab_dt_subsys.su_group);
	err = configfs_register_subsystem(&lab_dt_subsys);
	if (err) {
		platform_driver_unregister(&lab_dt_driver);
		return err;
	}
	lab_dir = debugfs_create_dir("lab-overlay", NULL);
	debugfs_create_file("ctl", 0200, lab_dir, NULL, &lab_ctl_fops);
	return 0;
}

static void __exit lab_overlay_exit(void)
{
	debugfs_remove_recursive(lab_dir);
	configfs_unregister_subsystem(&lab_dt_subsys);
	lab_release_held();
	platform_driver_unregister(&lab_dt_driver);
}

module_init(lab_overlay_init);
module_exit(lab_overlay_exit);
MODULE_DESCRIPTION("configfs device-tree overlay interface for the real-kernel lab");
MODULE_LICENSE("GPL");
