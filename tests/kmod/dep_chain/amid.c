// SPDX-License-Identifier: GPL-2.0
/*
 * amid - uses zbase_level() from zbase in the same folder (labctl fixture)
 */
#include <linux/module.h>

int zbase_level(void);

static int __init amid_init(void)
{
	pr_info("amid: up, zbase level %d\n", zbase_level());
	return 0;
}

static void __exit amid_exit(void)
{
	pr_info("amid: down\n");
}

module_init(amid_init);
module_exit(amid_exit);

MODULE_LICENSE("Dual MIT/GPL");
MODULE_DESCRIPTION("Middle of a dependency chain (fixture)");
