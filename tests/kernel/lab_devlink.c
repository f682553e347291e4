// SPDX-License-Identifier: GPL-2.0
/*
 * lab_devlink: the device-link lab of the real-kernel lab.
 *
 * Creates platform devices and calls the driver core's device-link API on
 * command, so that a scenario can be replayed step by step in the kernel
 * and compared with devlink-core's simulator after every step.
 *
 * Commands are written, one per write(), to /sys/kernel/debug/lab/ctl;
 * reading ctl returns the result of the last command ("ok", "null" or
 * "err <errno>"). Reading /sys/kernel/debug/lab/released lists the lab
 * devices whose release callback has run since the last reset.
 *
 *   dev NAME [parent=PARENT] [norpm] [fwnode]
 *                                      register platform device NAME
 *                                      (runtime PM enabled unless norpm;
 *                                      fwnode: with a software node, so
 *                                      fw_devlink gives it waiting_for_supplier)
 *   probe NAME ok|fail|defer           what the "lab" driver's probe of
 *                                      NAME returns (0, -ENXIO, -EPROBE_DEFER)
 *   onprobe NAME CONSUMER SUPPLIER FLAGS
 *                                      during NAME's next probes, call
 *                                      device_link_add(CONSUMER, SUPPLIER, FLAGS)
 *   link CONSUMER SUPPLIER FLAGS       device_link_add(); "ok" or "null"
 *   unlink CONSUMER SUPPLIER           device_link_remove()
 *   bind NAME                          driver_override "lab" + device_attach();
 *                                      "ok" if bound, else "err <errno>"
 *   unbind NAME                        device_release_driver()
 *   del NAME                           platform_device_unregister()
 *   wait-removal                       device_link_wait_removal()
 *   settle                             wait_for_device_probe() (deferred probes)
 *   hold NAME                          NAME's next driver remove callback
 *                                      waits (at most 10 s) for "release",
 *                                      so the transient state of an unbind
 *                                      can be read from sysfs
 *   release                            let a held remove callback return
 *   reset                              unregister every lab device, wait for
 *                                      removal, forget the released list
 *
 * Devices match the "lab" driver only through driver_override, so nothing
 * probes until it is bound (through this file, which uses device_attach()
 * as the driver core's own probing does, or through sysfs: write "lab" to
 * the device's driver_override, then its name to
 * /sys/bus/platform/drivers/lab/bind, which uses device_driver_attach()).
 */

#include <linux/module.h>
#include <linux/platform_device.h>
#include <linux/device.h>
#include <linux/debugfs.h>
#include <linux/mutex.h>
#include <linux/pm_runtime.h>
#include <linux/property.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/version.h>

/*
 * Let only the "lab" driver match a device. Kernels before 6.12 keep the
 * override in the platform device itself (Debian bookworm's 6.1, booted
 * by the lab's stock-kernel step).
 */
static int lab_set_override(struct platform_device *pdev)
{
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 12, 0)
	return driver_set_override(&pdev->dev, &pdev->driver_override, "lab", 3);
#else
	return device_set_driver_override(&pdev->dev, "lab");
#endif
}

#define LAB_MAX_DEVS 32
#define LAB_MAX_RELEASED 64
#define LAB_NAME_LEN 32

struct lab_dev {
	char name[LAB_NAME_LEN];
	struct platform_device *pdev;
	int probe_ret;
	int last_ret;		/* what the last probe returned; 1: not called */
	bool onprobe;
	bool hold_remove;
	char on_consumer[LAB_NAME_LEN];
	char on_supplier[LAB_NAME_LEN];
	u32 on_flags;
};

static DEFINE_MUTEX(lab_lock);	/* the command interface */
static DECLARE_COMPLETION(lab_remove_release);
static DEFINE_SPINLOCK(lab_rel_lock);	/* the released list */
static struct lab_dev lab_devs[LAB_MAX_DEVS];
static char lab_released[LAB_MAX_RELEASED][LAB_NAME_LEN];
static int lab_nreleased;
static char lab_result[64] = "ok";
static struct dentry *lab_dir;
static void (*lab_orig_release)(struct device *dev);
static const struct property_entry lab_props[] = {
	PROPERTY_ENTRY_BOOL("lab,device"),
	{ }
};

static struct lab_dev *lab_find(const char *name)
{
	int i;

	for (i = 0; i < LAB_MAX_DEVS; i++)
		if (lab_devs[i].pdev && !strcmp(lab_devs[i].name, name))
			return &lab_devs[i];
	return NULL;
}

static struct lab_dev *lab_find_pdev(struct platform_device *pdev)
{
	int i;

	for (i = 0; i < LAB_MAX_DEVS; i++)
		if (lab_devs[i].pdev == pdev)
			return &lab_devs[i];
	return NULL;
}

static void lab_release(struct device *dev)
{
	unsigned long flags;

	spin_lock_irqsave(&lab_rel_lock, flags);
	if (lab_nreleased < LAB_MAX_RELEASED)
		strscpy(lab_released[lab_nreleased++], dev_name(dev), LAB_NAME_LEN);
	spin_unlock_irqrestore(&lab_rel_lock, flags);
	lab_orig_release(dev);
}

static int lab_probe(struct platform_device *pdev)
{
	struct lab_dev *d;
	int ret = 0;

	/*
	 * Probes run with the device lock held and may run from the
	 * deferred-probe work while a command holds lab_lock and waits in
	 * "settle", so the table is read without lab_lock: entries only
	 * change while no probe can run (commands are sequential and every
	 * command settles before returning).
	 */
	d = lab_find_pdev(pdev);
	if (!d)
		return 0;
	if (d->onprobe) {
		struct lab_dev *c = lab_find(d->on_consumer);
		struct lab_dev *s = lab_find(d->on_supplier);

		if (c && s && !device_link_add(&c->pdev->dev, &s->pdev->dev,
					       d->on_flags))
			dev_info(&pdev->dev, "lab: link from probe refused\n");
	}
	ret = d->probe_ret;
	d->last_ret = ret;
	return ret;
}

static void lab_remove(struct platform_device *pdev)
{
	struct lab_dev *d = lab_find_pdev(pdev);

	if (d && d->hold_remove) {
		d->hold_remove = false;
		if (!wait_for_completion_timeout(&lab_remove_release, 10 * HZ))
			dev_warn(&pdev->dev, "lab: held remove timed out\n");
	}
}

static struct platform_driver lab_driver = {
	.probe = lab_probe,
	.remove_new = lab_remove,
	.driver = {
		.name = "lab",
	},
};

static void lab_settle(void)
{
	int i;

	/* A bind can trigger deferred probing, which can bind again. */
	for (i = 0; i < 3; i++)
		wait_for_device_probe();
}

static int lab_cmd_dev(char *name, char *rest)
{
	struct platform_device *pdev;
	struct lab_dev *slot = NULL, *parent = NULL;
	bool rpm = true, fwnode = false;
	char *opt;
	int i, err;

	if (strlen(name) >= LAB_NAME_LEN)
		return -ENAMETOOLONG;
	if (lab_find(name))
		return -EEXIST;
	while ((opt = strsep(&rest, " ")) != NULL) {
		if (!*opt)
			continue;
		if (!strncmp(opt, "parent=", 7)) {
			parent = lab_find(opt + 7);
			if (!parent)
				return -ENOENT;
		} else if (!strcmp(opt, "norpm")) {
			rpm = false;
		} else if (!strcmp(opt, "fwnode")) {
			fwnode = true;
		} else {
			return -EINVAL;
		}
	}
	for (i = 0; i < LAB_MAX_DEVS; i++)
		if (!lab_devs[i].pdev) {
			slot = &lab_devs[i];
			break;
		}
	if (!slot)
		return -ENOSPC;
	pdev = platform_device_alloc(name, PLATFORM_DEVID_NONE);
	if (!pdev)
		return -ENOMEM;
	if (parent)
		pdev->dev.parent = &parent->pdev->dev;
	if (fwnode) {
		err = device_create_managed_software_node(&pdev->dev, lab_props, NULL);
		if (err) {
			platform_device_put(pdev);
			return err;
		}
	}
	lab_orig_release = pdev->dev.release;
	pdev->dev.release = lab_release;
	memset(slot, 0, sizeof(*slot));
	strscpy(slot->name, name, LAB_NAME_LEN);
	slot->pdev = pdev;
	err = platform_device_add(pdev);
	if (err) {
		slot->pdev = NULL;
		platform_device_put(pdev);
		return err;
	}
	if (rpm)
		pm_runtime_enable(&pdev->dev);
	return 0;
}

static int lab_cmd_del(struct lab_dev *d)
{
	struct platform_device *pdev = d->pdev;

	d->pdev = NULL;
	platform_device_unregister(pdev);
	return 0;
}

static int lab_cmd_reset(void)
{
	unsigned long flags;
	int i;

	/* Children and later devices first. */
	for (i = LAB_MAX_DEVS - 1; i >= 0; i--)
		if (lab_devs[i].pdev && lab_devs[i].pdev->dev.parent &&
		    lab_find_pdev(to_platform_device(lab_devs[i].pdev->dev.parent)))
			lab_cmd_del(&lab_devs[i]);
	for (i = LAB_MAX_DEVS - 1; i >= 0; i--)
		if (lab_devs[i].pdev)
			lab_cmd_del(&lab_devs[i]);
	lab_settle();
	device_link_wait_removal();
	spin_lock_irqsave(&lab_rel_lock, flags);
	lab_nreleased = 0;
	spin_unlock_irqrestore(&lab_rel_lock, flags);
	return 0;
}

/* Returns 1 for "null" (device_link_add refused), 0 for ok, <0 errors. */
static int lab_run(char *line)
{
	char *cmd, *a, *b, *c;
	struct lab_dev *x, *y;
	u32 flags;

	cmd = strsep(&line, " ");
	if (!cmd)
		return -EINVAL;
	if (!strcmp(cmd, "dev")) {
		a = strsep(&line, " ");
		if (!a || !*a)
			return -EINVAL;
		return lab_cmd_dev(a, line);
	}
	if (!strcmp(cmd, "settle")) {
		lab_settle();
		return 0;
	}
	if (!strcmp(cmd, "wait-removal")) {
		device_link_wait_removal();
		return 0;
	}
	if (!strcmp(cmd, "reset"))
		return lab_cmd_reset();
	if (!strcmp(cmd, "release")) {
		complete(&lab_remove_release);
		return 0;
	}

	a = strsep(&line, " ");
	if (!a)
		return -EINVAL;
	x = lab_find(a);
	if (!x)
		return -ENOENT;
	if (!strcmp(cmd, "probe")) {
		if (!line)
			return -EINVAL;
		if (!strcmp(line, "ok"))
			x->probe_ret = 0;
		else if (!strcmp(line, "fail"))
			x->probe_ret = -ENXIO;
		else if (!strcmp(line, "defer"))
			x->probe_ret = -EPROBE_DEFER;
		else
			return -EINVAL;
		return 0;
	}
	if (!strcmp(cmd, "hold")) {
		reinit_completion(&lab_remove_release);
		x->hold_remove = true;
		return 0;
	}
	if (!strcmp(cmd, "onprobe")) {
		b = strsep(&line, " ");
		c = strsep(&line, " ");
		if (!b || !c || !line || kstrtou32(line, 0, &flags))
			return -EINVAL;
		strscpy(x->on_consumer, b, LAB_NAME_LEN);
		strscpy(x->on_supplier, c, LAB_NAME_LEN);
		x->on_flags = flags;
		x->onprobe = true;
		return 0;
	}
	if (!strcmp(cmd, "bind")) {
		int ret;

		ret = lab_set_override(x->pdev);
		if (ret)
			return ret;
		x->last_ret = 1;
		ret = device_attach(&x->pdev->dev);
		lab_settle();
		if (x->pdev->dev.driver)
			return 0;
		if (ret < 0)
			return ret;	/* e.g. -EPROBE_DEFER from the link gate */
		/* device_attach() hides the driver's own probe error. */
		return x->last_ret <= 0 ? x->last_ret : -ENODEV;
	}
	if (!strcmp(cmd, "unbind")) {
		device_release_driver(&x->pdev->dev);
		lab_settle();
		return 0;
	}
	if (!strcmp(cmd, "del")) {
		lab_cmd_del(x);
		lab_settle();
		return 0;
	}
	b = strsep(&line, " ");
	if (!b)
		return -EINVAL;
	y = lab_find(b);
	if (!y)
		return -ENOENT;
	if (!strcmp(cmd, "link")) {
		struct device_link *l;

		if (!line || kstrtou32(line, 0, &flags))
			return -EINVAL;
		l = device_link_add(&x->pdev->dev, &y->pdev->dev, flags);
		lab_settle();
		return l ? 0 : 1;
	}
	if (!strcmp(cmd, "unlink")) {
		device_link_remove(&x->pdev->dev, &y->pdev->dev);
		return 0;
	}
	return -EINVAL;
}

static ssize_t lab_ctl_write(struct file *file, const char __user *ubuf,
			     size_t count, loff_t *ppos)
{
	char *buf;
	int ret;

	if (count == 0 || count > 200)
		return -EINVAL;
	buf = memdup_user_nul(ubuf, count);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	strim(buf);
	mutex_lock(&lab_lock);
	ret = lab_run(buf);
	if (ret == 1)
		strscpy(lab_result, "null", sizeof(lab_result));
	else if (ret == 0)
		strscpy(lab_result, "ok", sizeof(lab_result));
	else
		snprintf(lab_result, sizeof(lab_result), "err %d", ret);
	mutex_unlock(&lab_lock);
	kfree(buf);
	return count;
}

static ssize_t lab_ctl_read(struct file *file, char __user *ubuf, size_t count,
			    loff_t *ppos)
{
	char out[80];
	int len;

	mutex_lock(&lab_lock);
	len = scnprintf(out, sizeof(out), "%s\n", lab_result);
	mutex_unlock(&lab_lock);
	return simple_read_from_buffer(ubuf, count, ppos, out, len);
}

static const struct file_operations lab_ctl_fops = {
	.owner = THIS_MODULE,
	.write = lab_ctl_write,
	.read = lab_ctl_read,
	.llseek = default_llseek,
};

static ssize_t lab_released_read(struct file *file, char __user *ubuf,
				 size_t count, loff_t *ppos)
{
	char *out;
	unsigned long flags;
	ssize_t ret;
	int i, len = 0;
	const int size = LAB_MAX_RELEASED * (LAB_NAME_LEN + 1) + 2;

	out = kzalloc(size, GFP_KERNEL);
	if (!out)
		return -ENOMEM;
	spin_lock_irqsave(&lab_rel_lock, flags);
	for (i = 0; i < lab_nreleased; i++)
		len += scnprintf(out + len, size - len, "%s\n", lab_released[i]);
	spin_unlock_irqrestore(&lab_rel_lock, flags);
	ret = simple_read_from_buffer(ubuf, count, ppos, out, len);
	kfree(out);
	return ret;
}

static const struct file_operations lab_released_fops = {
	.owner = THIS_MODULE,
	.read = lab_released_read,
	.llseek = default_llseek,
};

static int __init lab_init(void)
{
	int err;

	err = platform_driver_register(&lab_driver);
	if (err)
		return err;
	lab_dir = debugfs_create_dir("lab", NULL);
	debugfs_create_file("ctl", 0600, lab_dir, NULL, &lab_ctl_fops);
	debugfs_create_file("released", 0400, lab_dir, NULL, &lab_released_fops);
	return 0;
}

static void __exit lab_exit(void)
{
	debugfs_remove_recursive(lab_dir);
	mutex_lock(&lab_lock);
	lab_cmd_reset();
	mutex_unlock(&lab_lock);
	platform_driver_unregister(&lab_driver);
}

module_init(lab_init);
module_exit(lab_exit);
MODULE_DESCRIPTION("Device-link lab: device links driven from debugfs");
MODULE_LICENSE("GPL");
