// SPDX-License-Identifier: GPL-2.0
/*
 * zbase - the bottom of a dependency chain in one folder (labctl fixture)
 *
 * Kbuild lists zbase before amid (modules.order); in name order amid comes
 * first and would fail to load with "unknown symbol zbase_level". The level
 * parameter is for zbase only: given to amid it would be "unknown parameter".
 */
#include <linux/module.h>

static int level = 3;
module_param(level, int, 0444);
MODULE_PARM_DESC(level, "The level amid reports (default 3)");

int zbase_level(void)
{
	return level;
}
EXPORT_SYMBOL_GPL(zbase_level);

static int __init zbase_init(void)
{
	pr_info("zbase: up\n");
	return 0;
}

static void __exit zbase_exit(void)
{
	pr_info("zbase: down\n");
}

module_init(zbase_init);
module_exit(zbase_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Base of a dependency chain (fixture)");
