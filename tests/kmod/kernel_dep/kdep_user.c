// SPDX-License-Identifier: GPL-2.0
/*
 * kdep_user - uses kdep_v4l2_name() from kdep_v4l2 in the same folder
 * (labctl fixture)
 *
 * Kbuild lists it first, so modules.order puts it before the module it
 * depends on; it loads only when the modules are ordered by their depends.
 */
#include <linux/module.h>

#include "kdep_v4l2.h"

static int __init kdep_user_init(void)
{
	pr_info("kdep_user: up, device %s\n", kdep_v4l2_name());
	return 0;
}

static void __exit kdep_user_exit(void)
{
}

module_init(kdep_user_init);
module_exit(kdep_user_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Module depending on kdep_v4l2 in its folder (fixture)");
