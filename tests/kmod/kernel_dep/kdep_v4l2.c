// SPDX-License-Identifier: GPL-2.0
/*
 * kdep_v4l2 - a module that calls into a module of the kernel (labctl fixture)
 *
 * It registers a v4l2_device, so its .ko depends on the kernel's videodev,
 * which itself depends on mc: both must be loaded before it, as modprobe
 * would. It exports kdep_v4l2_name() for kdep_user in the same folder.
 */
#include <linux/module.h>
#include <linux/string.h>
#include <media/v4l2-device.h>

#include "kdep_v4l2.h"

static struct v4l2_device kdep_v4l2_dev;

const char *kdep_v4l2_name(void)
{
	return kdep_v4l2_dev.name;
}
EXPORT_SYMBOL_GPL(kdep_v4l2_name);

static int __init kdep_v4l2_init(void)
{
	int ret;

	strscpy(kdep_v4l2_dev.name, "kdep_v4l2", sizeof(kdep_v4l2_dev.name));
	ret = v4l2_device_register(NULL, &kdep_v4l2_dev);
	if (ret)
		return ret;
	pr_info("kdep_v4l2: registered v4l2 device %s\n", kdep_v4l2_dev.name);
	return 0;
}

static void __exit kdep_v4l2_exit(void)
{
	v4l2_device_unregister(&kdep_v4l2_dev);
}

module_init(kdep_v4l2_init);
module_exit(kdep_v4l2_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Module depending on the kernel's videodev (fixture)");
